/**
 * In-process stages (embedding, scoring) report progress while they run, with an event that is not
 * journaled: the json reporter of a real `pefuse run` shows it (the plain and tty renderings are tested on
 * scripted events in test/runner/reporters); the manifests stay small.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StageKey } from '../../runner/contract/stage.js';
import { openStore } from '../../runner/store/index.js';
import { pefuse, tempDir } from '../helpers/cli.js';
import { writeJson } from '../stages/datasets/fixtures.js';

const SPEC = `experiment: progress
datasets:
  - { name: synthetic, seed: 3, n_gallery: 40, n_queries: 6 }
mode: t2i
mllm: { backend: dummy, model: m }
retrieval: { backend: dummy, model: d }
`;

describe('pefuse run: progress of in-process stages', () => {
  it('the json reporter shows items done, rate and ETA for embedding and scoring; nothing is journaled', async () => {
    const dir = tempDir();
    writeJson(dir, 'spec.yaml', SPEC);
    const cache = join(dir, 'cache');
    const r = await pefuse(['--cache', cache, 'run', 'spec.yaml', '--reporter', 'json'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const progress = events.filter((e) => e.type === 'stage-progress');
    const last = (kind: string) => progress.filter((e) => e.kind === kind).at(-1);
    // The last event of each stage says everything is done (intermediate ones are coalesced).
    expect(last('embed.image')).toMatchObject({ done: 40, items: 40, eta: 0 });
    expect(last('embed.text')).toMatchObject({ done: 6, items: 6, eta: 0 });
    expect(last('score')).toMatchObject({ done: 6, items: 6, eta: 0 });
    for (const e of progress) {
      expect(typeof e.rate).toBe('number');
      expect(typeof e.seconds).toBe('number');
    }
    // Not journaled: the in-process stages' manifests list no items.
    const store = openStore(cache);
    const gallery = events.find((e) => e.type === 'stage-published' && e.kind === 'embed.image')!;
    const m = await store.stages.readManifest(gallery.key as StageKey);
    expect(m.ok && m.value?.items).toEqual([]);
    expect(readFileSync(join(cache, 'stages', gallery.key as string, 'manifest.json'), 'utf8')).not.toContain(
      '"id"',
    );
  });
});
