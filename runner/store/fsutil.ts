/**
 * Small durable-write helpers shared by the store: temp file → fsync → rename, and fsync of a
 * directory after a rename (best effort: some filesystems refuse to open directories for sync).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A unique temp path in `dir` (the store's `tmp/`, or beside the target). */
export function tempPath(dir: string, hint = 'tmp'): string {
  return join(dir, `${hint}.${process.pid}.${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `tmp`, fsyncs it, and renames it onto `target` (atomic on POSIX and NFS). */
export async function writeAtomic(target: string, data: Uint8Array | string, tmpDir: string): Promise<void> {
  await mkdir(tmpDir, { recursive: true });
  await mkdir(dirname(target), { recursive: true });
  const tmp = tempPath(tmpDir, 'w');
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dirname(target));
}

/** fsync a directory so a rename in it survives a power cut; ignored where unsupported. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported here (some network filesystems); the rename is still atomic.
  }
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}

/** `stat` that answers null for a missing path. */
export async function statOrNull(path: string): Promise<import('node:fs').Stats | null> {
  try {
    return await stat(path);
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return null;
    throw e;
  }
}

export const SHA256_RE = /^[0-9a-f]{64}$/;
