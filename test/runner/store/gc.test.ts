import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageKey } from '../../../runner/contract/stage.js';
import { collectGarbage, collectRefs, type FsStore } from '../../../runner/store/index.js';
import type { ObjectRef } from '../../../runner/store/types.js';
import { sha256Hex } from '../../../runner/util/json.js';
import { freshStore, keyOf, manifest } from './helpers.js';

const DAY = 86_400_000;

/** Backdates every file and directory under `path` by `ms`. */
function age(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    try {
      for (const n of readdirSync(p)) walk(join(p, n));
    } catch {
      // a file
    }
    utimesSync(p, t, t);
  };
  walk(path);
}

interface Fixture {
  store: FsStore;
  keep: StageKey;
  drop: StageKey;
  kept: ObjectRef[];
  dropped: ObjectRef[];
}

/** A reachable stage with nested object refs, an unreachable one, an item entry of each, a temp file. */
async function fixture(): Promise<Fixture> {
  const store = freshStore();
  const keep = keyOf('keep');
  const drop = keyOf('drop');
  const kept = [
    await store.objects.put('matrix'),
    await store.objects.put('ids'),
    await store.objects.put('png'),
  ];
  const dropped = [await store.objects.put('old matrix'), await store.objects.put('old png')];
  await store.stages.publish(
    manifest(keep, { matrix: kept[0]!, nested: { deep: [{ ids: kept[1]! }] } }, [
      { id: 'q1', output: { image: kept[2]! }, seconds: 1 },
    ]),
  );
  await store.stages.publish(
    manifest(drop, { matrix: dropped[0]! }, [{ id: 'q1', output: { image: dropped[1]! }, seconds: 1 }]),
  );
  await store.items.put(sha256Hex('item-keep'), { image: kept[2]! });
  await store.items.put(sha256Hex('item-drop'), { image: dropped[1]! });
  await store.items.put(sha256Hex('item-text'), { text: 'no objects' });
  mkdirSync(join(store.root, 'tmp'), { recursive: true });
  writeFileSync(join(store.root, 'tmp', 'w.123.abc'), 'half-written');
  age(store.root, 2 * 3_600_000);
  return { store, keep, drop, kept, dropped };
}

describe('gc', () => {
  it('finds {sha256, size} references at any depth', () => {
    const a = sha256Hex('a');
    const b = sha256Hex('b');
    const refs = collectRefs({
      x: [{ y: { sha256: a, size: 1 } }],
      z: { sha256: b, size: 2, extra: 1 },
      w: { sha256: 'nope', size: 1 },
    });
    expect([...refs].sort()).toEqual([a, b].sort());
  });

  it('removes unreachable stages, their objects, item entries pointing at them and old temp files', async () => {
    const { store, keep, drop, kept, dropped } = await fixture();
    const r = await collectGarbage(store, { reachable: new Set([keep]), dryRun: false });
    expect(r).toMatchObject({ stages: 1, objects: 2, items: 1, tmp: 1, lockedSkipped: 0 });
    expect(r.bytes).toBeGreaterThan(0);
    expect(await store.stages.list()).toEqual([keep]);
    for (const ref of kept) expect((await store.objects.read(ref)).ok).toBe(true);
    for (const ref of dropped) expect(await store.objects.has(ref.sha256)).toBe(false);
    expect(await store.items.get(sha256Hex('item-keep'))).toEqual({ image: kept[2] });
    expect(await store.items.get(sha256Hex('item-drop'))).toBeUndefined();
    expect(await store.items.get(sha256Hex('item-text'))).toEqual({ text: 'no objects' });
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
    expect(existsSync(store.stages.dirOf(drop))).toBe(false);
  });

  it('with dryRun counts the same and deletes nothing', async () => {
    const { store, keep } = await fixture();
    const dry = await collectGarbage(store, { reachable: new Set([keep]), dryRun: true });
    expect(await store.stages.list()).toHaveLength(2);
    const real = await collectGarbage(store, { reachable: new Set([keep]), dryRun: false });
    expect(real).toEqual(dry);
  });

  it('never touches an unreachable stage that is locked (running), nor the objects its journal names', async () => {
    const { store, keep } = await fixture();
    const running = keyOf('running');
    const lock = (await store.stages.lock(running, { wait: false }))!;
    const partial = await store.objects.put('partial output');
    await store.stages.journal(running).append({ id: 'q1', output: { image: partial }, seconds: 1 });
    age(store.root, 2 * 3_600_000);
    const r = await collectGarbage(store, { reachable: new Set([keep]), dryRun: false });
    expect(r.lockedSkipped).toBe(1);
    expect(await store.stages.list()).toContain(running);
    expect((await store.objects.read(partial)).ok).toBe(true);
    await lock.release();
  });

  it('removes old temp folders (a crashed scratch folder) and keeps fresh ones', async () => {
    const { store, keep } = await fixture();
    const old = join(store.root, 'tmp', 'scratch-old');
    const fresh = join(store.root, 'tmp', 'scratch-fresh');
    mkdirSync(join(old, 'sub'), { recursive: true });
    writeFileSync(join(old, 'sub', 'part.png'), 'x'.repeat(100));
    age(old, 2 * 3_600_000);
    mkdirSync(fresh);
    writeFileSync(join(fresh, 'part.png'), 'y');
    await collectGarbage(store, { reachable: new Set([keep]), dryRun: false });
    expect(readdirSync(join(store.root, 'tmp'))).toEqual(['scratch-fresh']);
  });

  it('keeps fresh objects (a run may not have journaled them yet)', async () => {
    const { store, keep } = await fixture();
    const fresh = await store.objects.put('just written');
    await collectGarbage(store, { reachable: new Set([keep]), dryRun: false });
    expect(await store.objects.has(fresh.sha256)).toBe(true);
  });

  it('with olderThanDays removes only unreachable entries not modified for that long', async () => {
    const { store, keep, drop } = await fixture();
    const r1 = await collectGarbage(store, { reachable: new Set([keep]), dryRun: false, olderThanDays: 1 });
    expect(r1).toMatchObject({ stages: 0, objects: 0 });
    expect(await store.stages.list()).toContain(drop);
    age(store.root, 3 * DAY);
    const r2 = await collectGarbage(store, { reachable: new Set([keep]), dryRun: false, olderThanDays: 1 });
    expect(r2).toMatchObject({ stages: 1, objects: 2 });
  });
});
