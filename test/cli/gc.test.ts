import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageKey } from '../../runner/contract/stage.js';
import { MANIFEST_FORMAT, openStore } from '../../runner/store/index.js';
import type { ObjectRef } from '../../runner/store/types.js';
import { sha256Hex } from '../../runner/util/json.js';
import { pefuse, tempDir } from '../helpers/cli.js';

const SPEC = `experiment: mini
datasets:
  - { name: synthetic, seed: 3, n_gallery: 20, n_queries: 8 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
sweep:
  grid: { mllm.temperature: [0.0, 0.5] }
`;

function backdate(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  const walk = (p: string) => {
    try {
      for (const n of readdirSync(p)) walk(join(p, n));
    } catch {
      // a file
    }
    utimesSync(p, t, t);
  };
  walk(path);
}

async function publish(cache: string, key: StageKey, output: ObjectRef): Promise<void> {
  await openStore(cache).stages.publish({
    format: MANIFEST_FORMAT,
    key,
    record: { scheme: 1, kind: 'score', impl_version: 1, params: {}, model: null, inputs: {}, data: null },
    items: [],
    output: { ranking: output },
    seconds: 1,
    host: 'h',
    device: null,
    peak_mem_mb: null,
    attempts: 1,
    finished_at: new Date().toISOString(),
  });
}

/** A project dir with experiments/mini.yaml and a cache holding one reachable and two unreachable stages. */
async function project(): Promise<{ dir: string; cache: string; reachable: StageKey; keptRef: ObjectRef }> {
  const dir = tempDir('pefuse-gc-');
  mkdirSync(join(dir, 'experiments'));
  writeFileSync(join(dir, 'experiments', 'mini.yaml'), SPEC);
  const plan = await pefuse(['plan', 'experiments/mini.yaml', '--json'], { cwd: dir });
  expect(plan.stderr).toBe('');
  expect(plan.exitCode).toBe(0);
  const reachable = JSON.parse(plan.stdout).stages[0].key as StageKey;
  const cache = join(dir, 'cache');
  const store = openStore(cache);
  const keptRef = await store.objects.put('reachable ranking');
  await publish(cache, reachable, keptRef);
  await publish(cache, sha256Hex('old-1') as StageKey, await store.objects.put('x'.repeat(1000)));
  await publish(cache, sha256Hex('old-2') as StageKey, await store.objects.put('y'.repeat(2000)));
  backdate(cache, 2 * 3_600_000);
  return { dir, cache, reachable, keptRef };
}

describe('pefuse gc', () => {
  it('with --dry-run reports what would go and deletes nothing', async () => {
    const { dir, cache } = await project();
    const r = await pefuse(['gc', '--dry-run'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('1 spec reaches 10 stages (cache: cache)');
    expect(lines[1]).toMatch(
      /^would remove 2 stages, 2 objects, 0 item-cache entries, 0 temp files: would free \d+\.\d KiB \(dry run, nothing deleted\)$/,
    );
    expect(await openStore(cache).stages.list()).toHaveLength(3);
  });

  it('removes what no spec under experiments/ reaches and keeps what one does', async () => {
    const { dir, cache, reachable, keptRef } = await project();
    const r = await pefuse(['gc', '--json'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      dryRun: false,
      reachable: 10,
      stages: 2,
      objects: 2,
      items: 0,
      lockedSkipped: 0,
    });
    expect(report.bytes).toBeGreaterThan(3000);
    const store = openStore(cache);
    expect(await store.stages.list()).toEqual([reachable]);
    expect((await store.objects.read(keptRef)).ok).toBe(true);
    // A second gc finds nothing more.
    const again = await pefuse(['gc'], { cwd: dir });
    expect(again.stdout.split('\n')[1]).toBe(
      'removed 0 stages, 0 objects, 0 item-cache entries, 0 temp files: freed 0 B',
    );
  });

  it('keeps only the stages of the specs named on the command line', async () => {
    const { dir, cache } = await project();
    writeFileSync(
      join(dir, 'other.yaml'),
      SPEC.replace('experiment: mini', 'experiment: other').replace('seed: 3', 'seed: 4'),
    );
    const r = await pefuse(['gc', 'other.yaml', '--json'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stages: 3 });
    expect(await openStore(cache).stages.list()).toEqual([]);
  });

  it('refuses to delete anything when a spec has errors', async () => {
    const { dir, cache } = await project();
    writeFileSync(join(dir, 'experiments', 'broken.yaml'), 'experiment: [oops\n');
    const r = await pefuse(['gc'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('experiments/broken.yaml:');
    expect(r.stderr).toContain(
      'pefuse gc: nothing was removed: experiments/broken.yaml could not be planned (errors above), so gc cannot tell which cache entries it reaches. Fix what is named above (the spec, an unset variable, a missing path), or leave the spec out of the list (pefuse gc SPEC…), then run gc again.\n',
    );
    expect(r.stdout).toBe('');
    expect(await openStore(cache).stages.list()).toHaveLength(3);
  });

  it('refuses to run without any spec to keep', async () => {
    const dir = tempDir('pefuse-gc-');
    const r = await pefuse(['gc'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `pefuse gc: no specs found in ${join(dir, 'experiments')}; name the specs whose results to keep (pefuse gc SPEC…). Refusing to run: every cache entry would count as unreachable.\n`,
    );
  });

  it('with --older-than keeps unreachable entries modified more recently', async () => {
    const { dir, cache } = await project();
    const r = await pefuse(['gc', '--older-than', '1', '--json'], { cwd: dir });
    expect(JSON.parse(r.stdout)).toMatchObject({ stages: 0, objects: 0 });
    expect(existsSync(join(cache, 'stages'))).toBe(true);
    expect(await openStore(cache).stages.list()).toHaveLength(3);
    const bad = await pefuse(['gc', '--older-than', 'week'], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe('pefuse gc: --older-than expects a number of days (>= 0), got "week"\n');
  });
});

describe('pefuse gc beside runs with overrides', () => {
  it('keeps stages published within the hour; --limit (like --set) makes an override run reachable', async () => {
    const { dir, cache } = await project();
    const store = openStore(cache);
    // The dataset stage of a `run --limit 2`: unreachable from the plain spec.
    const limited = await pefuse(['plan', 'experiments/mini.yaml', '--json', '--limit', '2'], { cwd: dir });
    const key = (JSON.parse(limited.stdout) as { stages: { key: StageKey }[] }).stages[0]!.key;
    await publish(cache, key, await store.objects.put('limited run output'));

    const wouldRemove = async (args: string[]) =>
      (await pefuse(['gc', '--dry-run', ...args], { cwd: dir })).stdout.split('\n')[1]!.split(',')[0];
    // Fresh: kept (a concurrent run may have just published it).
    expect(await wouldRemove([])).toBe('would remove 2 stages');
    // An hour later it goes, unless gc is told about the override.
    backdate(join(cache, 'stages', key), 2 * 3_600_000);
    expect(await wouldRemove([])).toBe('would remove 3 stages');
    expect(await wouldRemove(['--limit', '2'])).toBe('would remove 2 stages');
    expect(await wouldRemove(['--set', 'datasets.0.limit=2'])).toBe('would remove 2 stages');
  });
});
