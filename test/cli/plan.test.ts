/**
 * `pefuse plan` and `pefuse explain` through the real CLI: the example specs plan with the expected
 * stage counts (shared work planned once), cache status and reasons, and the key record printout.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KeyRecord } from '../../runner/contract/stage.js';
import { openStore } from '../../runner/store/index.js';
import { itWithShared, pefuse, REPO_ROOT, SHARED, tempDir } from '../helpers/cli.js';

interface PlanJson {
  points: number;
  point_list: { id: string; unresolved?: string[] }[];
  stages: { key: string; kind: string; role: string; status: string; reason: string; items: number | null }[];
  totals: Record<string, { stages: number; cached: number; run: number; items: number | null }>;
}

async function planJson(
  spec: string,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<PlanJson> {
  const cache = tempDir();
  const r = await pefuse(['plan', spec, '--json', '--cache', cache, ...args], { env });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as PlanJson;
}

const stagesPerKind = (p: PlanJson) =>
  Object.fromEntries(Object.entries(p.totals).map(([k, v]) => [k, v.stages]));

/** Expected stages per kind for each example spec (work shared across points is planned once). */
const EXPECTED: Record<string, { points: number; kinds: Record<string, number> }> = {
  'experiments/demo.yaml': {
    points: 24,
    kinds: {
      dataset: 1,
      'mllm.compose': 6,
      'mllm.caption': 8,
      'diffusion.edit': 6,
      'embed.text': 14,
      'embed.image': 7,
      score: 24,
      metrics: 24,
    },
  },
  // 16 distinct (temperature, top_p, top_k) settings × 3 repeats; ONE gallery embedding for all 54 points.
  'experiments/fig2-mllm-sensitivity.yaml': {
    points: 54,
    kinds: { dataset: 1, 'mllm.compose': 48, 'embed.text': 48, 'embed.image': 1, score: 48, metrics: 48 },
  },
  // 12 distinct diffusion settings × 2 text sources × 3 repeats; the MLLM runs once per repeat.
  'experiments/fig3-diffusion-sensitivity.yaml': {
    points: 84,
    kinds: { dataset: 1, 'mllm.compose': 3, 'diffusion.edit': 72, 'embed.image': 73, score: 72, metrics: 72 },
  },
  // 3 categories × {t2i, i2i} × 3 retrievers; gallery embeddings shared by t2i and i2i.
  'experiments/table1-fashioniq.yaml': {
    points: 18,
    kinds: {
      dataset: 3,
      'mllm.compose': 3,
      'diffusion.edit': 3,
      'embed.text': 9,
      'embed.image': 18,
      score: 18,
      metrics: 18,
    },
  },
  'experiments/table2-cirr.yaml': {
    points: 6,
    kinds: {
      dataset: 1,
      'mllm.compose': 1,
      'diffusion.edit': 1,
      'embed.text': 3,
      'embed.image': 6,
      score: 6,
      metrics: 6,
    },
  },
  'experiments/table3-circo.yaml': {
    points: 6,
    kinds: {
      dataset: 1,
      'mllm.compose': 1,
      'diffusion.edit': 1,
      'embed.text': 3,
      'embed.image': 6,
      score: 6,
      metrics: 6,
    },
  },
  // 9 datasets × 4 backbones; the MLLM descriptions are computed once per dataset, not per backbone.
  'experiments/table4-backbone-scaling.yaml': {
    points: 36,
    kinds: { dataset: 9, 'mllm.compose': 9, 'embed.text': 36, 'embed.image': 36, score: 36, metrics: 36 },
  },
};

describe('example specs validate and plan with the expected stage counts', () => {
  for (const [spec, want] of Object.entries(EXPECTED)) {
    it(spec, async () => {
      const v = await pefuse(['validate', spec]);
      expect(v.exitCode).toBe(0);
      const p = await planJson(spec);
      expect(p.points).toBe(want.points);
      expect(stagesPerKind(p)).toEqual(want.kinds);
      // The demo needs nothing from disk; the paper specs have no data or model folders here, so every
      // point is unresolved (shown, not run).
      const status = spec === 'experiments/demo.yaml' ? 'run' : 'unresolved';
      expect(p.stages.every((s) => s.status === status)).toBe(true);
    });
  }
});

describe('example specs on the real annotation files (../shared)', () => {
  const env = { PEFUSE_DATA: join(SHARED, 'datasets') };
  itWithShared('datasets/circo/annotations/val.json')(
    'fig2 on CIRCO val: items come from the annotation files',
    async () => {
      const p = await planJson('experiments/fig2-mllm-sensitivity.yaml', env);
      expect(p.totals['mllm.compose']!.items).toBe(48 * 220);
      // No COCO images here: the gallery cannot be built, so every point is unresolved.
      const dataset = p.stages.find((s) => s.kind === 'dataset')!;
      expect(dataset.status).toBe('unresolved');
      expect(p.point_list[0]!.unresolved).toContain(
        `the circo gallery cannot be built from ${join(SHARED, 'datasets', 'circo')}`,
      );
    },
  );
  itWithShared(
    ...['dress', 'shirt', 'toptee'].flatMap((c) => [
      `datasets/fashion-iq/captions/cap.${c}.val.json`,
      `datasets/fashion-iq/image_splits/split.${c}.val.json`,
    ]),
    'datasets/cirr/captions/cap.rc2.test1.json',
    'datasets/cirr/image_splits/split.rc2.test1.json',
    'datasets/circo/annotations/test.json',
  )('tables 1-3 plan on the real files', async () => {
    for (const spec of [
      'experiments/table1-fashioniq.yaml',
      'experiments/table2-cirr.yaml',
      'experiments/table3-circo.yaml',
    ]) {
      const p = await planJson(spec, env);
      expect(p.points).toBe(EXPECTED[spec]!.points);
    }
  });
});

const SMALL = `experiment: small
datasets: [{ name: synthetic, n_gallery: 20, n_queries: 5 }]
mode: t2i
mllm: { backend: dummy, model: dummy-mllm }
retrieval: { backend: dummy, model: dummy }
sweep:
  grid: { mllm.temperature: [0.1, 0.5] }
`;

describe('pefuse plan output', () => {
  it('keeps two different datasets that share a label apart (#index), and collapses identical entries', async () => {
    const dir = tempDir();
    const two = SMALL.replace(
      'datasets: [{ name: synthetic, n_gallery: 20, n_queries: 5 }]',
      'datasets: [{ name: synthetic, n_gallery: 20, n_queries: 5 }, { name: synthetic, n_gallery: 30, n_queries: 5 }, { name: synthetic, n_gallery: 20, n_queries: 5 }]',
    );
    writeFileSync(join(dir, 'two.yaml'), two);
    const r = await pefuse(['plan', 'two.yaml', '--cache', join(dir, 'cache')], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n').slice(1, 4)).toEqual([
      'points: 4',
      '  dataset: "synthetic/val#0", "synthetic/val#1"',
      '  mllm.temperature: 0.1, 0.5',
    ]);
  });

  it('prints points, stages per kind, and each stage with status and reason', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'small.yaml'), SMALL);
    const r = await pefuse(['plan', 'small.yaml', '--cache', join(dir, 'cache')], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const text = r.stdout.replace(/\b[0-9a-f]{12}\b/g, 'KEY');
    expect(text).toBe(`experiment small (${join(dir, 'small.yaml')})
points: 2
  dataset: "synthetic/val"
  mllm.temperature: 0.1, 0.5

kind          stages  cached  run  items
dataset            1       0    1      -
mllm.compose       2       0    2     10
embed.text         2       0    2     10
embed.image        1       0    1     20
score              2       0    2     10
metrics            2       0    2      -

10 of 10 stages will run, 0 cached

key           kind          role           status  reason  items  backend      points
KEY  dataset       dataset        run     new         -  synthetic         2
KEY  mllm.compose  query-text     run     new         5  dummy             1
KEY  embed.text    query-embed    run     new         5  dummy             1
KEY  embed.image   gallery-embed  run     new        20  dummy             2
KEY  score         score          run     new         5  onnxruntime       1
KEY  metrics       metrics        run     new         -  official          1
KEY  mllm.compose  query-text     run     new         5  dummy             1
KEY  embed.text    query-embed    run     new         5  dummy             1
KEY  score         score          run     new         5  onnxruntime       1
KEY  metrics       metrics        run     new         -  official          1
`);
  });

  it('says cached for published stages and why others run (from the slot history)', async () => {
    const dir = tempDir();
    const cache = join(dir, 'cache');
    writeFileSync(join(dir, 'small.yaml'), SMALL);
    const first = await pefuse(['plan', 'small.yaml', '--json', '--cache', cache], { cwd: dir });
    const plan = JSON.parse(first.stdout) as PlanJson & { stages: { key: string; kind: string }[] };
    // Pretend the temperature-0.1 chain ran: publish its stages and record them in the history.
    const store = openStore(cache);
    const explained = await Promise.all(
      plan.stages.slice(0, 6).map(async (s) => {
        const e = await pefuse(['explain', s.key, '--json', '--spec', 'small.yaml', '--cache', cache], {
          cwd: dir,
        });
        return JSON.parse(e.stdout) as { key: string; record: KeyRecord };
      }),
    );
    for (const [i, { key, record }] of explained.entries()) {
      await store.stages.publish({
        format: 'pefuse-stage/1',
        key: key as never,
        record,
        items: [],
        output: null,
        seconds: 0,
        host: 'test',
        device: null,
        peak_mem_mb: null,
        attempts: 1,
        finished_at: new Date(0).toISOString(),
      });
      await store.history.append('small', `synthetic/val:${plan.stages[i]!.role}`, record);
    }
    const second = await pefuse(
      ['plan', 'small.yaml', '--json', '--cache', cache, '--set', 'mllm.top_p=0.5'],
      { cwd: dir },
    );
    const p2 = JSON.parse(second.stdout) as PlanJson;
    const reasons = p2.stages.map((s) => `${s.kind}:${s.status}:${s.reason}`);
    expect(reasons).toEqual([
      'dataset:cached:cached',
      'mllm.compose:run:param top_p 0.9 → 0.5 changed',
      'embed.text:run:input changed',
      'embed.image:cached:cached',
      'score:run:input changed',
      'metrics:run:input changed',
      'mllm.compose:run:param temperature 0.1 → 0.5, top_p 0.9 → 0.5 changed',
      'embed.text:run:input changed',
      'score:run:input changed',
      'metrics:run:input changed',
    ]);

    // A stage that ran but left the cache (gc, or deleted by hand) says so.
    rmSync(join(cache, 'stages', plan.stages[1]!.key), { recursive: true });
    const third = await pefuse(['plan', 'small.yaml', '--json', '--cache', cache], { cwd: dir });
    const p3 = JSON.parse(third.stdout) as PlanJson;
    expect(`${p3.stages[1]!.status}:${p3.stages[1]!.reason}`).toBe(
      'run:computed before, no longer in the cache',
    );
  });
});

describe('pefuse plan after an interrupted run', () => {
  it('says how many journaled items a stage resumes', async () => {
    const dir = tempDir();
    const cache = join(dir, 'cache');
    writeFileSync(join(dir, 'small.yaml'), SMALL);
    const first = await pefuse(['plan', 'small.yaml', '--json', '--cache', cache], { cwd: dir });
    const compose = (JSON.parse(first.stdout) as PlanJson).stages.find((s) => s.kind === 'mllm.compose')!;
    const journal = openStore(cache).stages.journal(compose.key as never);
    for (const id of ['q0000', 'q0001', 'q0002'])
      await journal.append({ id, output: { text: `t ${id}` }, seconds: 0.1 });
    const again = await pefuse(['plan', 'small.yaml', '--json', '--cache', cache], { cwd: dir });
    const s = (JSON.parse(again.stdout) as PlanJson).stages.find((x) => x.key === compose.key)!;
    expect(`${s.status}: ${s.reason}`).toBe('run: interrupted earlier: resumes 3 journaled items');
  });
});

describe('pefuse explain', () => {
  it('prints the key record of a planned stage from a unique prefix', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'small.yaml'), SMALL);
    const p = JSON.parse(
      (await pefuse(['plan', 'small.yaml', '--json', '--cache', join(dir, 'c')], { cwd: dir })).stdout,
    ) as PlanJson;
    const compose = p.stages.find((s) => s.kind === 'mllm.compose')!;
    const dataset = p.stages.find((s) => s.kind === 'dataset')!;
    const r = await pefuse(
      ['explain', compose.key.slice(0, 10), '--spec', 'small.yaml', '--cache', join(dir, 'c')],
      { cwd: dir },
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^stage [0-9a-f]{64}\n {2}planned by small.yaml \(run: new\)\n/);
    expect(r.stdout).toContain(`kind          mllm.compose
impl_version  1
params
  max_tokens           128
  repetition_penalty   1
  seed                 0
  temperature          0.1
  top_k                50
  top_p                0.9
model         {"backend":"dummy","model":"dummy-mllm"}
inputs
  dataset              ${dataset.key}
data          {"prompt":"sha256:`);
  });

  it('rejects what is not a key, and a prefix that matches nothing', async () => {
    const bad = await pefuse(['explain', 'xyz', '--cache', tempDir()]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe(
      'pefuse explain: "xyz" is not a stage key (6 to 64 hex characters, as printed by `pefuse plan`)\n',
    );
    const none = await pefuse([
      'explain',
      'ffffff',
      '--spec',
      'experiments/demo.yaml',
      '--cache',
      '/nonexistent/cache',
    ]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toBe(
      'pefuse explain: no stage key starts with ffffff (searched the cache at /nonexistent/cache and the given specs)\n',
    );
  });

  it('explain --spec reports a missing or broken spec instead of ignoring it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.yaml'), 'experiment: t\nmode: t2i\n');
    const missing = await pefuse(['explain', 'ffffff', '--spec', 'nope.yaml', '--cache', join(dir, 'c')], {
      cwd: dir,
    });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe('pefuse explain: --spec nope.yaml: file not found\n');
    const broken = await pefuse(['explain', 'ffffff', '--spec', 'bad.yaml', '--cache', join(dir, 'c')], {
      cwd: dir,
    });
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toContain('bad.yaml:1:1: error: the spec is missing the required key `datasets`');
    expect(broken.stderr).toMatch(
      /\npefuse explain: --spec bad\.yaml has errors \(above\); fix them to look the key up in it\n$/,
    );
  });
});

void REPO_ROOT;
