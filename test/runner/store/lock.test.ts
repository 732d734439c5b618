import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LockHolder } from '../../../runner/store/types.js';
import { freshStore, keyOf } from './helpers.js';

/** A pid that surely belongs to no running process: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function writeOwner(lockDir: string, holder: LockHolder): void {
  mkdirSync(lockDir, { recursive: true });
  writeFileSync(join(lockDir, 'owner.json'), JSON.stringify(holder));
}

describe('stage locks', () => {
  it('lets one holder in at a time and records who holds it', async () => {
    const store = freshStore();
    const key = keyOf('l1');
    const a = await store.stages.lock(key, { wait: false });
    expect(a).not.toBeNull();
    expect(a!.held).toBe(true);
    expect(await store.stages.lock(key, { wait: false })).toBeNull();
    const holder = await store.stages.lockHolder(key);
    expect(holder).toMatchObject({ pid: process.pid, host: hostname() });
    await a!.release();
    expect(a!.held).toBe(false);
    expect(existsSync(join(store.stages.dirOf(key), 'lock'))).toBe(false);
    expect(await store.stages.lockHolder(key)).toBeNull();
    const b = await store.stages.lock(key, { wait: false });
    expect(b).not.toBeNull();
    await b!.release();
  });

  it('reclaims a stale lock left by a dead process on this host', async () => {
    const store = freshStore();
    const key = keyOf('l2');
    const now = new Date().toISOString();
    writeOwner(join(store.stages.dirOf(key), 'lock'), {
      pid: deadPid(),
      host: hostname(),
      started: now,
      heartbeat: now,
    });
    expect(await store.stages.lockHolder(key)).toBeNull();
    const lock = await store.stages.lock(key, { wait: false });
    expect(lock).not.toBeNull();
    expect(await store.stages.lockHolder(key)).toMatchObject({ pid: process.pid });
    await lock!.release();
  });

  it('reclaims a lock from another host whose heartbeat expired, but not a fresh one', async () => {
    const store = freshStore();
    const key = keyOf('l3');
    const lockDir = join(store.stages.dirOf(key), 'lock');
    const fresh = new Date().toISOString();
    writeOwner(lockDir, { pid: 1, host: 'gpu-node-7', started: fresh, heartbeat: fresh });
    expect(await store.stages.lock(key, { wait: false, staleMs: 60_000 })).toBeNull();
    const old = new Date(Date.now() - 120_000).toISOString();
    writeOwner(lockDir, { pid: 1, host: 'gpu-node-7', started: old, heartbeat: old });
    const lock = await store.stages.lock(key, { wait: false, staleMs: 60_000 });
    expect(lock).not.toBeNull();
    await lock!.release();
  });

  it('waits for the holder, telling who it waits for, then takes the lock', async () => {
    const store = freshStore();
    const key = keyOf('l4');
    const first = (await store.stages.lock(key, { wait: false }))!;
    const seen: LockHolder[] = [];
    let waiting!: () => void;
    const told = new Promise<void>((r) => {
      waiting = r;
    });
    const second = store.stages.lock(key, {
      wait: true,
      pollMs: 20,
      onWaiting: (h) => {
        seen.push(h);
        waiting();
      },
    });
    // The waiter says whom it waits for before the holder releases (an event, not a sleep).
    await told;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ pid: process.pid, host: hostname() });
    await first.release();
    const got = await second;
    expect(got).not.toBeNull();
    await got!.release();
  });

  it('stops waiting when aborted', async () => {
    const store = freshStore();
    const key = keyOf('l5');
    const first = (await store.stages.lock(key, { wait: false }))!;
    const ac = new AbortController();
    const waiting = store.stages.lock(key, { wait: true, pollMs: 20, signal: ac.signal });
    ac.abort();
    expect(await waiting).toBeNull();
    await first.release();
  });

  it('refreshes the heartbeat while held', async () => {
    const store = freshStore();
    const key = keyOf('l6');
    // staleMs 1000 → a heartbeat every 250 ms.
    const lock = (await store.stages.lock(key, { wait: false, staleMs: 1000 }))!;
    const before = (await store.stages.lockHolder(key))!.heartbeat;
    // Waits for the heartbeat to be written (not a fixed sleep): fails only if none comes in 20 s.
    let after = (await store.stages.lockHolder(key))!;
    for (const t0 = Date.now(); after.heartbeat === before && Date.now() - t0 < 20_000; ) {
      await new Promise((r) => setTimeout(r, 20));
      after = (await store.stages.lockHolder(key))!;
    }
    expect(after.heartbeat > before).toBe(true);
    expect(after.started).toBe(before);
    await lock.release();
  });
});
