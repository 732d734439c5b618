/**
 * `pefuse run` with `retrieval.backend: onnx` end to end: tiny ONNX towers built by the test, in a model
 * folder laid out as `stages/embed/export_onnx.py` writes it (pefuse-model.json naming the profile, both
 * towers, the tokenizer files), through the executor, the store and the per-item cache; then a cached
 * re-run, and a re-keyed run whose embeddings all come from the item cache.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';
import { tinyGemmaTokenizer } from '../stages/embed/models.js';
import { textTower, visionTower } from '../stages/embed/onnx-builder.js';

type Ev = Record<string, unknown>;
const events = (stdout: string): Ev[] =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev);

/** What export_onnx.py writes for siglip2-base-patch16-224 (768-wide towers, 64 tokens, 224 px). */
function exportedSiglipFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'pefuse-model.json'),
    `${JSON.stringify({ format: 'pefuse-embed-model/1', profile: 'siglip2-base-patch16-224' }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'text_model.onnx'), textTower({ context: 64, dim: 768 }));
  writeFileSync(join(dir, 'vision_model.onnx'), visionTower({ size: 224, dim: 768 }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tinyGemmaTokenizer()));
  writeFileSync(join(dir, 'tokenizer_config.json'), '{}\n');
}

const SPEC = `experiment: onnx-e2e
datasets:
  - { name: synthetic, seed: 5, n_gallery: 12, n_queries: 4 }
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: onnx, model: siglip2-base-patch16-224, model_dir: models/siglip2 }
`;

describe('pefuse run with retrieval.backend: onnx', () => {
  it('embeds through the executor, store and item cache; re-runs cached; a re-keyed run reuses every item', async () => {
    const dir = tempDir();
    exportedSiglipFolder(join(dir, 'models', 'siglip2'));
    writeFileSync(join(dir, 'spec.yaml'), SPEC);
    const cache = join(dir, 'cache');
    const run = (...extra: string[]) =>
      pefuse(['--cache', cache, 'run', 'spec.yaml', '--reporter', 'json', ...extra], { cwd: dir });

    const first = await run();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toContain('embed.image       1 stages     0 cached     1 to run  (12 items)');
    const e1 = events(first.stdout);
    const published = (kind: string) =>
      e1.filter((e) => e.type === 'stage-published' && e.kind === kind).map((e) => e.items);
    // The ONNX towers ran (the stages name the profile, not the dummy embedder).
    expect(
      e1
        .filter((e) => e.type === 'stage-published' && String(e.kind).startsWith('embed.'))
        .map((e) => e.backend),
    ).toEqual(['siglip2-base-patch16-224', 'siglip2-base-patch16-224']);
    expect(published('embed.image')).toEqual([12]);
    expect(published('embed.text')).toEqual([4]);
    expect(published('score')).toHaveLength(1);
    expect(published('metrics')).toHaveLength(1);
    // Each embedding is an item of its stage (journaled, computed now).
    const items = (evs: Ev[], kind: string) => evs.filter((e) => e.type === 'item-done' && e.kind === kind);
    expect(items(e1, 'embed.image').map((e) => e.cached)).toEqual(Array(12).fill(false));
    expect(items(e1, 'embed.text').map((e) => e.cached)).toEqual(Array(4).fill(false));

    // Same spec, same cache: nothing runs.
    const again = await run();
    expect(again.exitCode).toBe(0);
    const finished = events(again.stdout).find((e) => e.type === 'run-finished') as {
      counts: { stages: number; cached: number; published: number };
    };
    expect(finished.counts.published).toBe(0);
    expect(finished.counts.cached).toBe(finished.counts.stages);

    // Another dataset key (limit) re-keys the gallery embedding; its 12 images come from the item cache.
    const rekeyed = await run('--limit', '2');
    expect(rekeyed.exitCode).toBe(0);
    const e3 = events(rekeyed.stdout);
    expect(e3.some((e) => e.type === 'stage-started' && e.kind === 'embed.image')).toBe(true);
    expect(items(e3, 'embed.image').map((e) => e.cached)).toEqual(Array(12).fill(true));

    // The results database holds the run's metrics.
    const status = await pefuse(['--cache', cache, 'status', '--json'], { cwd: dir });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain('onnx-e2e');
  });
});
