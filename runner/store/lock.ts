/**
 * One lock per stage key: the directory `stages/<key>/lock/` (mkdir is atomic, also on NFS) holding
 * `owner.json` = {pid, host, started, heartbeat}. The holder rewrites `owner.json` on an interval
 * (the heartbeat). A lock is stale when its holder is on this host and its pid is dead, or when its
 * heartbeat is older than `staleMs` (the holder is on another host, or hung). A stale lock is
 * reclaimed by renaming the directory to a unique name (only one contender can win that rename),
 * checking that the renamed directory is still the stale one, and removing it.
 *
 * Own implementation rather than proper-lockfile: proper-lockfile judges staleness only by the lock
 * directory's mtime and keeps no owner record, while we need "held by pid 4242 on gpu-node-3 since …"
 * for the waiting message and the dead-pid check on the same host.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { StageKey } from '../contract/stage.js';
import { isJsonObject } from '../util/json.js';
import { isErrno } from './fsutil.js';
import type { LockHandle, LockHolder, LockOptions } from './types.js';

export const DEFAULT_STALE_MS = 120_000;
const DEFAULT_POLL_MS = 500;
/** A lock dir without a readable owner file (crash between mkdir and write) is stale after this. */
const OWNERLESS_GRACE_MS = 10_000;

const HOST = hostname();

export async function readHolder(lockDir: string): Promise<LockHolder | null> {
  try {
    const v: unknown = JSON.parse(await readFile(join(lockDir, 'owner.json'), 'utf8'));
    if (
      isJsonObject(v) &&
      typeof v.pid === 'number' &&
      typeof v.host === 'string' &&
      typeof v.started === 'string' &&
      typeof v.heartbeat === 'string'
    ) {
      return { pid: v.pid, host: v.host, started: v.started, heartbeat: v.heartbeat };
    }
    return null;
  } catch {
    return null;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM');
  }
}

/** Whether a holder is stale (dead pid on this host, or heartbeat older than staleMs). */
export function isStale(holder: LockHolder, staleMs: number, now = Date.now()): boolean {
  if (holder.host === HOST && !pidAlive(holder.pid)) return true;
  const beat = Date.parse(holder.heartbeat);
  return !Number.isFinite(beat) || now - beat > staleMs;
}

/**
 * The state of a lock dir: `free` (none), `held` (live holder), or `stale` with the holder seen (null
 * when the owner file is missing past the grace period).
 */
async function inspect(
  lockDir: string,
  staleMs: number,
): Promise<
  { state: 'free' } | { state: 'held'; holder: LockHolder } | { state: 'stale'; holder: LockHolder | null }
> {
  const holder = await readHolder(lockDir);
  if (holder === null) {
    try {
      const st = await stat(lockDir);
      if (Date.now() - st.mtimeMs > OWNERLESS_GRACE_MS) return { state: 'stale', holder: null };
      // Being created right now: report it as held by an unknown process.
      return {
        state: 'held',
        holder: { pid: 0, host: '?', started: st.mtime.toISOString(), heartbeat: st.mtime.toISOString() },
      };
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return { state: 'free' };
      throw e;
    }
  }
  return isStale(holder, staleMs) ? { state: 'stale', holder } : { state: 'held', holder };
}

/** The live holder of a lock, or null when the lock is free or stale. */
export async function liveHolder(lockDir: string, staleMs = DEFAULT_STALE_MS): Promise<LockHolder | null> {
  const s = await inspect(lockDir, staleMs);
  return s.state === 'held' ? s.holder : null;
}

/** Removes a stale lock dir unless someone replaced it meanwhile; true when this call removed it. */
async function reclaim(lockDir: string, seen: LockHolder | null): Promise<boolean> {
  const aside = `${lockDir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockDir, aside);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false; // another contender reclaimed it first
    throw e;
  }
  const now = await readHolder(aside);
  const same =
    seen === null
      ? now === null
      : now !== null && now.pid === seen.pid && now.host === seen.host && now.started === seen.started;
  if (!same) {
    // We moved a fresh lock taken between our check and the rename: put it back if the place is free.
    await rename(aside, lockDir).catch(() => undefined);
    return false;
  }
  await rm(aside, { recursive: true, force: true });
  return true;
}

export async function acquireLock(
  key: StageKey,
  lockDir: string,
  opts: LockOptions,
): Promise<LockHandle | null> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  let warned = false;
  for (;;) {
    if (opts.signal?.aborted) return null;
    try {
      await mkdir(lockDir, { recursive: false });
      return await Lock.start(key, lockDir, staleMs);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        await mkdir(join(lockDir, '..'), { recursive: true });
        continue;
      }
      if (!isErrno(e, 'EEXIST')) throw e;
    }
    const s = await inspect(lockDir, staleMs);
    if (s.state === 'free') continue;
    if (s.state === 'stale') {
      if (await reclaim(lockDir, s.holder)) opts.onReclaimed?.(s.holder);
      continue;
    }
    if (!opts.wait) return null;
    if (!warned) {
      warned = true;
      opts.onWaiting?.(s.holder);
    }
    await sleep(pollMs, opts.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

class Lock implements LockHandle {
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  private lost = false;

  private constructor(
    readonly key: StageKey,
    private readonly dir: string,
    private readonly owner: LockHolder,
  ) {}

  static async start(key: StageKey, dir: string, staleMs: number): Promise<Lock> {
    const now = new Date().toISOString();
    const lock = new Lock(key, dir, { pid: process.pid, host: HOST, started: now, heartbeat: now });
    try {
      await lock.writeOwner();
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    const every = Math.max(50, Math.min(30_000, Math.floor(staleMs / 4)));
    lock.timer = setInterval(() => void lock.beat(), every);
    lock.timer.unref();
    return lock;
  }

  get held(): boolean {
    return !this.released && !this.lost;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.lost) return;
    const cur = await readHolder(this.dir);
    if (cur !== null && !this.isMe(cur)) return; // someone reclaimed it: not ours to delete
    await rm(this.dir, { recursive: true, force: true });
  }

  private isMe(h: LockHolder): boolean {
    return h.pid === this.owner.pid && h.host === this.owner.host && h.started === this.owner.started;
  }

  private async beat(): Promise<void> {
    if (!this.held) return;
    const cur = await readHolder(this.dir);
    if (cur === null || !this.isMe(cur)) {
      this.lost = true;
      clearInterval(this.timer);
      return;
    }
    this.owner.heartbeat = new Date().toISOString();
    await this.writeOwner().catch(() => undefined);
  }

  /** owner.json via a temp file in the lock dir + rename, so readers never see half a file. */
  private async writeOwner(): Promise<void> {
    const tmp = join(this.dir, `owner.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, JSON.stringify(this.owner));
    await rename(tmp, join(this.dir, 'owner.json'));
  }
}
