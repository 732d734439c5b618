/**
 * Is the cache on a filesystem every node sees? Shards read their stage description and inputs from
 * the cache and journal into it, so a cache on a node-local disk works only when every job lands on
 * the submit host. Judged from the filesystem type (statfs), and said plainly when it cannot be known;
 * each array task also checks that a file the orchestrator wrote is there before it starts
 * (script.ts), so a non-shared cache fails with that message rather than a missing-file error.
 */
import { statfs } from 'node:fs/promises';

export interface SharedFsVerdict {
  /** `shared`: a network/cluster filesystem; `local`: a node-local one; `unknown`: cannot tell. */
  verdict: 'shared' | 'local' | 'unknown';
  /** The filesystem's name, when known (`nfs`, `lustre`, `ext4`, `tmpfs`…). */
  fs: string | null;
  /** One line for the user. */
  message: string;
}

/** statfs f_type magic numbers (linux/magic.h and the filesystems' own headers). */
const SHARED: Record<number, string> = {
  26985: 'nfs',
  198183888: 'lustre',
  1196443219: 'gpfs',
  428016422: 'beegfs',
  12805120: 'cephfs',
  4283649346: 'cifs',
  4266872130: 'smb2',
  1702057286: 'fuse',
  19993000: 'ibrix',
  1397113167: 'afs',
  1799439955: 'afs',
  2866260714: 'panfs',
};
const LOCAL: Record<number, string> = {
  61267: 'ext4',
  1481003842: 'xfs',
  2435016766: 'btrfs',
  16914836: 'tmpfs',
  2035054128: 'overlayfs',
  801189825: 'zfs',
  19780: 'vfat',
  1397118030: 'ntfs',
  4076150800: 'f2fs',
};

export function judgeFsType(type: number, path: string): SharedFsVerdict {
  const t = type >>> 0;
  const shared = SHARED[t];
  if (shared === 'fuse')
    return {
      verdict: 'unknown',
      fs: shared,
      message: `cannot verify that the cache ${path} is shared with the compute nodes (${shared}); each shard checks it can see the cache before it starts`,
    };
  if (shared !== undefined)
    return {
      verdict: 'shared',
      fs: shared,
      message: `the cache ${path} is on ${shared}, a shared filesystem`,
    };
  const local = LOCAL[t];
  if (local !== undefined)
    return {
      verdict: 'local',
      fs: local,
      message: `the cache ${path} is on ${local}, a node-local filesystem: jobs on other nodes will not see it (fine on a single-node cluster; otherwise pass --cache on NFS, Lustre, GPFS or BeeGFS)`,
    };
  return {
    verdict: 'unknown',
    fs: null,
    message: `cannot verify that the cache ${path} is shared with the compute nodes (filesystem type 0x${t.toString(16)}); each shard checks it can see the cache before it starts`,
  };
}

export async function checkSharedFs(path: string): Promise<SharedFsVerdict> {
  try {
    const s = await statfs(path);
    return judgeFsType(Number(s.type), path);
  } catch (e) {
    return {
      verdict: 'unknown',
      fs: null,
      message: `cannot verify that the cache ${path} is shared with the compute nodes (${(e as Error).message})`,
    };
  }
}
