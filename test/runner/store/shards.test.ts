/**
 * Shard journals in the store: several processes journal one stage's items into their own files
 * (`stages/<key>/shards/journal.<i>-of-<n>.jsonl`); resume reads them all, gc keeps what they name,
 * publishing removes them. And the stage description a shard reads back.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DESCRIPTION_FILE, describeStage } from '../../../runner/contract/description.js';
import { NO_RETRY } from '../../../runner/contract/run.js';
import { collectGarbage } from '../../../runner/store/index.js';
import { freshStore, keyOf, manifest, record } from './helpers.js';

describe('shard journals', () => {
  it('several shard journals and the stage journal read back as one set of items, first record of an id wins', async () => {
    const store = freshStore();
    const key = keyOf('sharded');
    await store.stages.journal(key).append({ id: 'q0', output: 'main', seconds: 1 });
    await store.stages.shardJournal(key, { shard: 0, of: 2 }).append({ id: 'q1', output: 'a', seconds: 1 });
    await store.stages.shardJournal(key, { shard: 1, of: 2 }).append({ id: 'q2', output: 'b', seconds: 1 });
    await store.stages.shardJournal(key, { shard: 1, of: 2 }).append({ id: 'q0', output: 'dup', seconds: 1 });
    // A torn line from a shard killed mid-write is dropped and counted.
    writeFileSync(join(store.stages.shardsDir(key), 'journal.0-of-3.jsonl'), 'deadbeefdeadbeef {"id":"q9"');
    const r = await store.stages.readJournals(key);
    expect(r.items.map((i) => [i.id, i.output])).toEqual([
      ['q0', 'main'],
      ['q1', 'a'],
      ['q2', 'b'],
    ]);
    expect(r.dropped).toBe(1);
    // Publishing removes the shard journals with the stage journal; the manifest is what counts now.
    await store.stages.publish(manifest(key));
    expect(existsSync(store.stages.shardsDir(key))).toBe(false);
    expect((await store.stages.readJournals(key)).items).toEqual([]);
  });

  it('gc keeps an object named only in a shard journal of a kept stage', async () => {
    const store = freshStore();
    const key = keyOf('running in shards');
    const obj = await store.objects.put('an embedding a shard computed');
    await store.stages.shardJournal(key, { shard: 1, of: 4 }).append({
      id: 'g17',
      output: { embedding: obj },
      seconds: 0.1,
    });
    const r = await collectGarbage(store, { reachable: new Set([key]), dryRun: false, graceMs: 0 });
    expect(r.objects).toBe(0);
    expect(await store.objects.has(obj.sha256)).toBe(true);
  });

  it('writes a stage description into the stage folder and reads it back; says in one line what is wrong with a bad one', async () => {
    const store = freshStore();
    const key = keyOf('described');
    const missing = await store.stages.readDescription(key);
    expect(missing.ok).toBe(false);
    if (!missing.ok)
      expect(missing.error).toMatch(
        /^no stage description at .*description\.json \(the orchestrator writes it/,
      );
    const d = describeStage({
      pefuse: '0.0.0-test',
      key,
      record: record('embed.image'),
      node: {
        kind: 'embed.image',
        role: 'gallery-embed',
        params: { backend: 'dummy', model: 'dummy' },
        model: 'dummy',
        data: null,
        inputs: { gallery: 'dataset' },
        items: 240,
        backend: 'dummy',
        settings: { model_dir: '/models/clip' },
      },
      resource: 'cpu',
      unit: 'chunk',
      retry: { retries: 2, backoffMs: (a) => 1000 * 2 ** (a - 2) },
      attempt: 1,
    });
    const path = await store.stages.writeDescription(d);
    expect(path).toBe(join(store.stages.dirOf(key), DESCRIPTION_FILE));
    const back = await store.stages.readDescription(key);
    expect(back).toEqual({ ok: true, value: d });
    expect(d.retry).toEqual({ retries: 2, backoff_ms: [1000, 2000] });
    expect(d.node.settings).toEqual({ model_dir: '/models/clip' });

    writeFileSync(path, '{"format": "pefuse-stage-description/1", "key"');
    const torn = await store.stages.readDescription(key);
    expect(torn).toEqual({
      ok: false,
      error: `${path} is not a usable stage description: not valid JSON (a torn or truncated write?)`,
    });
    writeFileSync(path, JSON.stringify({ ...d, key: keyOf('other') }));
    const other = await store.stages.readDescription(key);
    expect(other.ok ? '' : other.error).toMatch(/it describes stage [0-9a-f]{12}, not [0-9a-f]{12}$/);
    writeFileSync(path, JSON.stringify({ ...d, retry: NO_RETRY, node: { kind: 'embed.image' } }));
    const bad = await store.stages.readDescription(key);
    expect(bad.ok ? '' : bad.error).toMatch(/"node" lacks its kind, params or settings$/);
    expect(readdirSync(store.stages.dirOf(key))).toEqual([DESCRIPTION_FILE]);
  });
});
