/**
 * Stages computed in shards by separate processes (`pefuse __shard`, started by the internal
 * `--executor subprocess`), against the same cache as the orchestrator: the demo publishes the same
 * stages, byte for byte, as with the local executor; the sub-command's errors; resume from shard
 * journals.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDescription } from '../../runner/contract/description.js';
import type { StageKey } from '../../runner/contract/stage.js';
import { openResults } from '../../runner/results/index.js';
import { journalLine } from '../../runner/store/journal.js';
import type { StageManifest } from '../../runner/store/types.js';
import type { JsonValue } from '../../runner/util/json.js';
import { pefuse, tempDir } from '../helpers/cli.js';

const DEMO = 'experiments/demo.yaml';
const LIMIT = '4';

function manifests(cache: string): Map<string, StageManifest> {
  const out = new Map<string, StageManifest>();
  for (const key of readdirSync(join(cache, 'stages')).sort()) {
    const path = join(cache, 'stages', key, 'manifest.json');
    if (existsSync(path)) out.set(key, JSON.parse(readFileSync(path, 'utf8')) as StageManifest);
  }
  return out;
}

/** What a published stage IS (not when, where or how fast it was computed). */
function content(m: StageManifest): JsonValue {
  return {
    record: m.record as unknown as JsonValue,
    output: m.output,
    items: m.items.map((i) => ({ id: i.id, output: i.output, cached: i.cached === true })),
  };
}

/** Every `{sha256}` a manifest names, with the object's bytes (base64). */
function objects(cache: string, ms: Map<string, StageManifest>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const sha = (v as { sha256?: unknown }).sha256;
      if (typeof sha === 'string')
        out.set(sha, readFileSync(join(cache, 'objects', sha.slice(0, 2), sha)).toString('base64'));
      Object.values(v).forEach(walk);
    }
  };
  for (const m of ms.values()) walk(m);
  return out;
}

async function query(cache: string, sql: string): Promise<Record<string, JsonValue>[]> {
  const db = openResults(join(cache, 'results.duckdb'), { readOnly: true });
  const r = await db.query(sql);
  await db.close();
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const METRICS = `SELECT point_id, metric, k, value FROM metrics ORDER BY point_id, metric, k`;
const STAGES = `SELECT key, kind, status, items FROM stages ORDER BY key`;

describe('the demo computed in shards by `pefuse __shard` processes', () => {
  // Both runs use the same cache path (the synthetic dataset's image paths are inside the cache).
  const root = tempDir('pefuse-shards-');
  const cache = join(root, 'cache');
  const local = join(root, 'local');
  const sharded = join(root, 'sharded');
  let shardedOut = '';

  beforeAll(async () => {
    const a = await pefuse(['--cache', cache, 'run', DEMO, '--limit', LIMIT, '--reporter', 'plain']);
    expect(a.exitCode, a.stderr).toBe(0);
    renameSync(cache, local);
    const b = await pefuse(
      [
        '--cache',
        cache,
        'run',
        DEMO,
        '--limit',
        LIMIT,
        '--reporter',
        'plain',
        '--executor',
        'subprocess',
        '--shards',
        '3',
      ],
      { timeout: 300_000 },
    );
    expect(b.exitCode, b.stderr).toBe(0);
    shardedOut = b.stdout;
    renameSync(cache, sharded);
  }, 400_000);

  it('publishes the same stage keys with the same records, items and outputs as the local executor', () => {
    const a = manifests(local);
    const b = manifests(sharded);
    expect(a.size).toBe(90);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [key, m] of a) expect(content(b.get(key)!), key).toEqual(content(m));
  });

  it('names the same objects, byte for byte', () => {
    const a = objects(local, manifests(local));
    const b = objects(sharded, manifests(sharded));
    expect(a.size).toBeGreaterThan(50);
    expect(b).toEqual(a);
  });

  it('records the same metrics and stage item counts', async () => {
    expect(await query(sharded, METRICS)).toEqual(await query(local, METRICS));
    expect(await query(sharded, STAGES)).toEqual(await query(local, STAGES));
  });

  it('really ran shards: each shardable stage has its description, and no shard journal is left', () => {
    const byKind = new Map<string, { described: number; total: number }>();
    for (const [key, m] of manifests(sharded)) {
      const k = byKind.get(m.record.kind) ?? { described: 0, total: 0 };
      k.total++;
      if (existsSync(join(sharded, 'stages', key, 'description.json'))) k.described++;
      expect(existsSync(join(sharded, 'stages', key, 'shards'))).toBe(false);
      byKind.set(m.record.kind, k);
    }
    for (const kind of [
      'mllm.compose',
      'mllm.caption',
      'diffusion.edit',
      'embed.text',
      'embed.image',
      'score',
    ])
      expect(byKind.get(kind)?.described, kind).toBe(byKind.get(kind)?.total);
    for (const kind of ['dataset', 'metrics']) expect(byKind.get(kind)?.described, kind).toBe(0);
    // A description is the stage as data: its record, node (with settings), inputs and how it splits.
    const [key, m] = [...manifests(sharded)].find(([, x]) => x.record.kind === 'mllm.caption')!;
    const d = parseDescription(
      readFileSync(join(sharded, 'stages', key, 'description.json'), 'utf8'),
      key as StageKey,
    );
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.value.record).toEqual(m.record);
      expect(d.value.inputs).toEqual(m.record.inputs);
      expect(d.value.shards).toEqual({ unit: 'item', items: 240 });
      expect(d.value.node.settings).toMatchObject({ backend: 'dummy' });
      expect(d.value.retry.retries).toBe(2);
    }
    // What users see is the same run summary.
    expect(shardedOut).toMatch(/done: 90 stages \(0 cached, 90 computed\)/);
  });
  it('runs shards by hand with `pefuse __shard` (as cluster jobs would); the next run adopts their journals', async () => {
    renameSync(sharded, cache);
    try {
      const [key, m] = [...manifests(cache)].find(([, x]) => x.record.kind === 'mllm.caption')!;
      rmSync(join(cache, 'stages', key, 'manifest.json'));
      const runs = await Promise.all(
        [0, 1, 2].map((i) =>
          pefuse(['--cache', cache, '__shard', '--stage', key, '--shard', String(i), '--of', '3']),
        ),
      );
      for (const r of runs) expect(r, r.stderr).toMatchObject({ exitCode: 0 });
      expect(runs.map((r) => r.stderr.trim().split('\n').at(-1))).toEqual([
        'shard 1 of 3: 80 record(s) journaled',
        'shard 2 of 3: 80 record(s) journaled',
        'shard 3 of 3: 80 record(s) journaled',
      ]);
      expect(readdirSync(join(cache, 'stages', key, 'shards')).sort()).toEqual([
        'journal.0-of-3.jsonl',
        'journal.1-of-3.jsonl',
        'journal.2-of-3.jsonl',
        'result.0-of-3.json',
        'result.1-of-3.json',
        'result.2-of-3.json',
      ]);
      const again = await pefuse(['--cache', cache, 'run', DEMO, '--limit', LIMIT, '--reporter', 'json']);
      expect(again.exitCode, again.stderr).toBe(0);
      const events = again.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, JsonValue>);
      expect(events.find((e) => e.type === 'stage-started' && e.key === key)?.resumed).toBe(240);
      expect(events.filter((e) => e.type === 'item-done' && e.key === key)).toEqual([]);
      expect(content(manifests(cache).get(key)!)).toEqual(content(m));
    } finally {
      renameSync(cache, sharded);
    }
  });
});

describe('pefuse __shard', () => {
  const key = 'ab'.repeat(32);

  it('is not listed in --help nor among the commands `pefuse help NAME` names', async () => {
    const h = await pefuse(['--help']);
    expect(h.stdout).not.toContain('__shard');
    const u = await pefuse(['help', 'nope']);
    expect(u.stderr).not.toContain('__shard');
  });

  it('says in one line (exit 2) that a description is missing or unusable, or a flag is wrong', async () => {
    const cache = tempDir('pefuse-shard-cli-');
    const base = ['--cache', cache, '__shard', '--stage', key];
    const missing = await pefuse([...base, '--shard', '0', '--of', '2']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe(
      `pefuse __shard: no stage description at ${join(cache, 'stages', key, 'description.json')} (the orchestrator writes it before it starts shards)\n`,
    );
    mkdirSync(join(cache, 'stages', key), { recursive: true });
    writeFileSync(join(cache, 'stages', key, 'description.json'), '{"format": "pefuse-stage-desc');
    const corrupt = await pefuse([...base, '--shard', '0', '--of', '2']);
    expect(corrupt.exitCode).toBe(2);
    expect(corrupt.stderr).toBe(
      `pefuse __shard: ${join(cache, 'stages', key, 'description.json')} is not a usable stage description: not valid JSON (a torn or truncated write?)\n`,
    );
    const range = await pefuse([...base, '--shard', '2', '--of', '2']);
    expect(range).toMatchObject({
      exitCode: 2,
      stderr: 'pefuse __shard: --shard 2 --of 2: need 0 <= shard < of\n',
    });
    const notKey = await pefuse(['--cache', cache, '__shard', '--stage', 'abc', '--shard', '0', '--of', '1']);
    expect(notKey).toMatchObject({
      exitCode: 2,
      stderr: 'pefuse __shard: --stage abc: not a stage key (64 hex characters)\n',
    });
  });
});

describe('resume from shard journals', () => {
  it('counts items a shard journaled before the run stopped, recomputes those naming a lost object, and publishes the same stage', async () => {
    const cache = join(tempDir('pefuse-shard-resume-'), 'cache');
    const first = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'plain']);
    expect(first.exitCode, first.stderr).toBe(0);
    const before = manifests(cache);
    const [key, edit] = [...before].find(([, m]) => m.record.kind === 'diffusion.edit')!;
    expect(edit.items).toHaveLength(3);
    // As if shards of an interrupted run had journaled two items, and one's image was lost since.
    const dir = join(cache, 'stages', key);
    rmSync(join(dir, 'manifest.json'));
    const shards = join(dir, 'shards');
    mkdirSync(shards, { recursive: true });
    writeFileSync(join(shards, 'journal.0-of-2.jsonl'), journalLine(edit.items[0]!));
    writeFileSync(join(shards, 'journal.1-of-2.jsonl'), journalLine(edit.items[1]!));
    const lost = (edit.items[1]!.output as { image: { sha256: string } }).image.sha256;
    rmSync(join(cache, 'objects', lost.slice(0, 2), lost));

    const again = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'json']);
    expect(again.exitCode, again.stderr).toBe(0);
    const events = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, JsonValue>);
    const started = events.find((e) => e.type === 'stage-started' && e.key === key);
    expect(started?.resumed).toBe(1);
    expect(
      events.some(
        (e) =>
          e.type === 'warning' &&
          String(e.message).includes('1 journaled item(s) name objects no longer in the cache'),
      ),
    ).toBe(true);
    expect(
      events
        .filter((e) => e.type === 'item-done' && e.key === key)
        .map((e) => e.item)
        .sort(),
    ).toEqual([edit.items[1]!.id, edit.items[2]!.id].sort());
    const after = manifests(cache).get(key)!;
    expect(content(after)).toEqual(content(edit));
    expect(existsSync(shards)).toBe(false);
  });
});

describe('healing with shards', () => {
  it('a shard that finds an input object corrupt makes the orchestrator withdraw the stage that named it; the next run recomputes both', async () => {
    const cache = join(tempDir('pefuse-shard-heal-'), 'cache');
    const first = await pefuse(['--cache', cache, 'run', DEMO, '--limit', '3', '--reporter', 'plain']);
    expect(first.exitCode, first.stderr).toBe(0);
    const before = manifests(cache);
    const [captionKey, caption] = [...before].find(([, m]) => m.record.kind === 'mllm.caption')!;
    const datasetKey = caption.record.inputs.dataset!;
    const gallery = (before.get(datasetKey)!.output as { gallery: { sha256: string } }).gallery.sha256;
    rmSync(join(cache, 'stages', captionKey, 'manifest.json'));
    const path = join(cache, 'objects', gallery.slice(0, 2), gallery);
    const bytes = readFileSync(path);
    bytes[10] = bytes[10]! ^ 1;
    writeFileSync(path, bytes);

    const run = [
      '--cache',
      cache,
      'run',
      DEMO,
      '--limit',
      '3',
      '--reporter',
      'plain',
      '--executor',
      'subprocess',
    ];
    const broken = await pefuse(run, { timeout: 300_000 });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain(
      `the cached output of dataset stage ${datasetKey.slice(0, 12)} was withdrawn: re-run the same command to recompute it`,
    );
    expect(existsSync(join(cache, 'stages', datasetKey, 'manifest.withdrawn.json'))).toBe(true);

    const healed = await pefuse(run, { timeout: 300_000 });
    expect(healed.exitCode, healed.stderr).toBe(0);
    const after = manifests(cache);
    expect(content(after.get(captionKey)!)).toEqual(content(caption));
    expect(content(after.get(datasetKey)!)).toEqual(content(before.get(datasetKey)!));
  }, 400_000);
});
