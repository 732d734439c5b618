import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../runner/util/npy.js';
import { itWithShared, pefuse, SHARED, tempDir } from '../helpers/cli.js';
import { circoRoot, cirrRoot, fashionIqRoot, genecisRoot, writeJson } from '../stages/datasets/fixtures.js';
import { cirV1, sharedJson, toFloat32 } from '../stages/metrics/refvector-gen.js';

// biome-ignore lint/suspicious/noExplicitAny: refvector JSON is read loosely and checked value by value
type Any = any;

function npyFile(rows: number, cols: number, data: Float32Array | Float64Array): string {
  const file = join(tempDir('pefuse-eval-'), 'scores.npy');
  writeFileSync(
    file,
    encodeNpy({ dtype: data instanceof Float32Array ? '<f4' : '<f8', shape: [rows, cols], data }),
  );
  return file;
}

function jsonFile(value: unknown): string {
  const file = join(tempDir('pefuse-eval-'), 'rankings.json');
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

const CIRR_SCORES = [
  [10, 9, 1, 1, 1, 1, 1, 1],
  [5, 0, 9, 5, 0, 0, 5, 0],
  [0, 0, 0, 0, 0, 0, 0, 0],
];

const CIRR_FILES = (split: string) => [
  `datasets/cirr/captions/cap.rc2.${split}.json`,
  `datasets/cirr/image_splits/split.rc2.${split}.json`,
];
const FIQ_VAL = ['dress', 'shirt', 'toptee'].flatMap((c) => [
  `datasets/fashion-iq/captions/cap.${c}.val.json`,
  `datasets/fashion-iq/image_splits/split.${c}.val.json`,
]);

describe('pefuse evaluate', () => {
  it('prints the metrics as JSON (percentages and hit counts)', async () => {
    const root = cirrRoot();
    const scores = npyFile(3, 8, Float64Array.from(CIRR_SCORES.flat()));
    const r = await pefuse([
      'evaluate',
      '--dataset',
      'cirr',
      '--split',
      'val',
      '--data-root',
      root,
      '--scores',
      scores,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const third = 100 / 3;
    expect(JSON.parse(r.stdout)).toEqual({
      dataset: 'cirr',
      split: 'val',
      subset: null,
      n: 3,
      metrics: {
        'recall@1': third,
        'recall@2': third,
        'recall@5': 100,
        'recall@10': 100,
        'recall@50': 100,
        'recall_subset@1': third,
        'recall_subset@2': 2 * third,
        'recall_subset@3': 2 * third,
      },
      hits: {
        'recall@1': 1,
        'recall@2': 1,
        'recall@5': 3,
        'recall@10': 3,
        'recall@50': 3,
        'recall_subset@1': 1,
        'recall_subset@2': 2,
        'recall_subset@3': 2,
      },
    });
  });

  it('prints an aligned table without --json', async () => {
    const root = fashionIqRoot();
    const rankings = jsonFile({ 0: ['A0', 'A1', 'A2', 'A3', 'A4'], 1: ['A3', 'A0', 'A1', 'A2', 'A4'] });
    const r = await pefuse([
      'evaluate',
      '--dataset',
      'fashioniq',
      '--split',
      'val',
      '--data-root',
      root,
      '--category',
      'dress',
      '--rankings',
      rankings,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      [
        'Fashion-IQ dress val (n = 2)',
        'metric     value (%)  hits',
        'recall@10     100.00     2',
        'recall@50     100.00     2',
        '',
      ].join('\n'),
    );
  });

  it('GeneCIS has one split: --split is not needed (other benchmarks still need it)', async () => {
    const root = genecisRoot();
    const rankings = jsonFile({ 0: [0, 1, 2, 3], 1: [1, 0, 2, 3] });
    const args = ['evaluate', '--data-root', root, '--rankings', rankings];
    const r = await pefuse([...args, '--dataset', 'genecis', '--task', 'focus_object']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('GeneCIS focus_object (n = 2)');
    const test = await pefuse([...args, '--dataset', 'genecis', '--task', 'focus_object', '--split', 'test']);
    expect([test.exitCode, test.stderr]).toEqual([
      2,
      'pefuse evaluate: GeneCIS has one split: leave --split out (got "test")\n',
    ]);
    const cirr = await pefuse([...args, '--dataset', 'cirr']);
    expect([cirr.exitCode, cirr.stderr]).toEqual([
      2,
      'pefuse evaluate: --dataset cirr needs --split val|test1\n',
    ]);
  });

  it('reports bad input with exit 2 and exact messages', async () => {
    const cirr = cirrRoot();
    const base = ['evaluate', '--dataset', 'cirr', '--split', 'val', '--data-root', cirr];
    const good = npyFile(3, 8, Float32Array.from(CIRR_SCORES.flat()));
    const notNpy = jsonFile('{}');
    const badJson = jsonFile('{"100": [');
    const cols7 = npyFile(3, 7, new Float32Array(21));
    const nan = npyFile(
      3,
      8,
      Float32Array.from({ length: 24 }, (_, i) => (i === 9 ? Number.NaN : 0)),
    );
    const unknownId = jsonFile({ 100: ['x'] });
    const cases: [string[], string, 'prefix'?][] = [
      [base, 'pefuse evaluate: give exactly one of --scores FILE.npy or --rankings FILE.json'],
      [
        [...base, '--scores', good, '--rankings', good],
        'pefuse evaluate: give exactly one of --scores FILE.npy or --rankings FILE.json',
      ],
      [
        [...base, '--scores', join(cirr, 'none.npy')],
        `pefuse evaluate: --scores ${join(cirr, 'none.npy')}: not found`,
      ],
      [
        [...base, '--scores', cols7],
        `pefuse evaluate: --scores ${cols7}: has 7 columns but the CIRR val gallery has 8 images (split-file key order)`,
      ],
      [
        [...base, '--scores', nan],
        `pefuse evaluate: --scores ${nan}: has NaN at row 1, column 1 (query "101"); scores must be finite numbers`,
      ],
      [
        [...base, '--scores', notNpy],
        `pefuse evaluate: --scores ${notNpy}: not a NumPy .npy file (bad magic)`,
      ],
      [
        [...base, '--rankings', badJson],
        `pefuse evaluate: --rankings ${badJson}: not valid JSON (`,
        'prefix',
      ],
      [
        [...base, '--rankings', unknownId],
        `pefuse evaluate: --rankings ${unknownId}: query "100", item [0]: unknown image id "x" (not in the CIRR val gallery)`,
      ],
      [
        [...base, '--category', 'dress', '--scores', good],
        'pefuse evaluate: --category applies only to --dataset fashioniq',
      ],
      [
        ['evaluate', '--dataset', 'fashioniq', '--split', 'val', '--data-root', cirr, '--scores', good],
        'pefuse evaluate: --dataset fashioniq needs --category dress|shirt|toptee',
      ],
      [
        ['evaluate', '--dataset', 'imagenet', '--split', 'val', '--data-root', cirr, '--scores', good],
        'pefuse evaluate: --dataset must be one of fashioniq, cirr, circo, genecis, got "imagenet"',
      ],
      [
        ['evaluate', '--dataset', 'cirr', '--split', 'train', '--data-root', cirr, '--scores', good],
        'pefuse evaluate: --split must be val or test, got "train"',
      ],
      [
        ['evaluate', '--dataset', 'cirr', '--split', 'test', '--data-root', cirr, '--scores', good],
        'pefuse evaluate: CIRR test has no ground truth (the CIRR test server evaluates it: write a submission with pefuse export)',
      ],
      [
        [
          'evaluate',
          '--dataset',
          'cirr',
          '--split',
          'val',
          '--data-root',
          join(cirr, 'cirr'),
          '--scores',
          good,
        ],
        `pefuse evaluate: ${join(cirr, 'cirr', 'cirr/captions/cap.rc2.val.json')}: not found (CIRR val captions; the dataset root must contain cirr/captions/)`,
      ],
    ];
    for (const [args, message, prefix] of cases) {
      const r = await pefuse(args);
      expect(r.exitCode, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      if (prefix) expect(r.stderr.startsWith(message), r.stderr).toBe(true);
      else expect(r.stderr).toBe(`${message}\n`);
    }
  });

  it('rejects a duplicate id in a CIRCO list', async () => {
    const root = circoRoot();
    const list = Array.from({ length: 50 }, (_, i) => 1000 + i);
    const rankings = jsonFile({ 0: list, 1: [...list.slice(0, 49), 1000] });
    const r = await pefuse([
      'evaluate',
      '--dataset',
      'circo',
      '--split',
      'val',
      '--data-root',
      root,
      '--rankings',
      rankings,
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `pefuse evaluate: --rankings ${rankings}: query "1" has a duplicate id 1000 (at [0] and [49]): ids must be unique per query\n`,
    );
  });
});

describe('pefuse evaluate refuses input that would give wrong metrics (exit 2)', () => {
  const cirrArgs = (root: string) => ['evaluate', '--dataset', 'cirr', '--split', 'val', '--data-root', root];
  const HOW = 'give longer lists (the full ranking is always enough) or --scores';
  const full = (ref: number) =>
    [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => i !== ref).map((i) => `dev-${i}-0-img0`);

  async function expectRefused(args: string[], message: string): Promise<void> {
    const r = await pefuse(args);
    expect(r.stdout).toBe('');
    expect([r.exitCode, r.stderr]).toEqual([2, `pefuse evaluate: ${message}\n`]);
  }

  it('rankings too short for recall@50 (or still holding the CIRR reference), and repeated query keys', async () => {
    const root = cirrRoot();
    const short = jsonFile({ 100: full(0), 101: full(2).slice(0, 5), 102: full(3) });
    await expectRefused(
      [...cirrArgs(root), '--rankings', short],
      `--rankings ${short}: query "101" has 5 gallery ids after removing the reference; recall@50 needs at least 7 (the whole gallery but the reference): ${HOW}`,
    );
    const withRef = jsonFile({ 100: ['dev-0-0-img0', ...full(0).slice(0, 6)], 101: full(2), 102: full(3) });
    await expectRefused(
      [...cirrArgs(root), '--rankings', withRef],
      `--rankings ${withRef}: query "100" has 6 gallery ids after removing the reference (the list still holds the reference dev-0-0-img0: the official code removes it before taking the top 50); recall@50 needs at least 7 (the whole gallery but the reference): ${HOW}`,
    );
    const twice = jsonFile(
      `{"100": ${JSON.stringify(full(0))}, "101": ${JSON.stringify(full(2))}, "102": [], "102": ${JSON.stringify(full(3))}}`,
    );
    await expectRefused(
      [...cirrArgs(root), '--rankings', twice],
      `--rankings ${twice}: query key "102" appears twice; give exactly one list per query`,
    );
    const ok = await pefuse([
      ...cirrArgs(root),
      '--rankings',
      jsonFile({ 100: full(0), 101: full(2), 102: full(3) }),
    ]);
    expect(ok.exitCode, ok.stderr).toBe(0);
  });

  it('score matrices: int32, trailing bytes, +Infinity; messages name the file', async () => {
    const root = cirrRoot();
    const i32 = join(tempDir('pefuse-eval-'), 'i32.npy');
    writeFileSync(i32, encodeNpy({ dtype: '<i4', shape: [3, 8], data: new Int32Array(24) }));
    await expectRefused(
      [...cirrArgs(root), '--scores', i32],
      `--scores ${i32}: unsupported .npy dtype int32 (<i4): expected float32 or float64, little-endian`,
    );
    const trailing = join(tempDir('pefuse-eval-'), 'trailing.npy');
    const bytes = encodeNpy({ dtype: '<f4', shape: [3, 8], data: new Float32Array(24) });
    writeFileSync(trailing, Buffer.concat([bytes, Buffer.alloc(8)]));
    await expectRefused(
      [...cirrArgs(root), '--scores', trailing],
      `--scores ${trailing}: 8 trailing bytes after the .npy data (the header's shape (3, 8) needs 96 data bytes, the file has 104); save it again with numpy.save`,
    );
    const inf = npyFile(
      3,
      8,
      Float64Array.from({ length: 24 }, (_, i) => (i === 20 ? Infinity : 0)),
    );
    await expectRefused(
      [...cirrArgs(root), '--scores', inf],
      `--scores ${inf}: has Infinity at row 2, column 4 (query "102"); scores must be finite numbers`,
    );
  });

  it('annotation files the official code would reject or that hold no queries', async () => {
    const root = cirrRoot();
    const good = npyFile(3, 8, Float32Array.from(CIRR_SCORES.flat()));
    const caps = join(root, 'cirr/captions/cap.rc2.val.json');
    writeFileSync(caps, '[]');
    await expectRefused(
      [...cirrArgs(root), '--scores', good],
      `${caps}: holds no queries (an empty JSON array or object); check that --data-root points at the official annotation files`,
    );
    writeFileSync(
      caps,
      JSON.stringify([
        {
          pairid: 100,
          reference: 'dev-0-0-img0',
          target_hard: 'dev-1-0-img0',
          caption: 'a',
          img_set: { id: 1, members: ['dev-0-0-img0', 'dev-2-0-img0'] },
        },
      ]),
    );
    await expectRefused(
      [...cirrArgs(root), '--scores', good],
      `${caps}: record 0, field "img_set.members": does not contain target_hard "dev-1-0-img0" (Recall_subset ranks the target among the members)`,
    );
  });

  it('GeneCIS: a score matrix with samples of different gallery sizes names the record', async () => {
    const root = genecisRoot();
    const o = (id: number) => ({ val_image_id: id });
    const file = writeJson(root, 'focus_object.json', [
      { reference: o(1), target: o(2), condition: 'dog', gallery: [o(3), o(4), o(5)] },
      { reference: o(5), target: o(6), condition: 'cat', gallery: [o(7)] },
      { reference: o(5), target: o(6), condition: 'cow', gallery: [o(7), o(8), o(9)] },
    ]);
    const scores = npyFile(3, 4, new Float32Array(12));
    await expectRefused(
      [
        'evaluate',
        '--dataset',
        'genecis',
        '--split',
        'val',
        '--task',
        'focus_object',
        '--data-root',
        root,
        '--scores',
        scores,
      ],
      `--scores ${scores}: GeneCIS focus_object samples have galleries of different sizes (2, 4): ${file}: record 1 has 2 candidates ([target] + gallery) where most have 4; a score matrix cannot hold them: use --rankings`,
    );
  });
});

describe('pefuse evaluate on the reference vectors (../shared)', () => {
  const D = join(SHARED, 'datasets');
  const run = async (args: string[]) => {
    const r = await pefuse(['evaluate', ...args, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      metrics: Record<string, number>;
      hits: Record<string, number>;
      n: number;
    };
  };

  itWithShared('refvectors/cirr_val.seed1001.json', ...CIRR_FILES('val'))(
    'CIRR val --scores (cir-v1 seed 1001) and the column-count message',
    async () => {
      const rv: Any = sharedJson('refvectors', 'cirr_val.seed1001.json');
      const raw = sharedJson<Any[]>('datasets', 'cirr', 'captions', 'cap.rc2.val.json');
      const names = Object.keys(
        sharedJson<Record<string, string>>('datasets', 'cirr', 'image_splits', 'split.rc2.val.json'),
      );
      const col = new Map(names.map((n, j) => [n, j]));
      const m = cirV1({
        seed: rv.generator.seed,
        numGallery: names.length,
        refIdx: raw.map((r) => col.get(r.reference)!),
        tgtIdx: raw.map((r) => col.get(r.target_hard)!),
        softIdx: raw.map((r) =>
          Object.keys(r.target_soft)
            .filter((k) => k !== r.target_hard && k !== r.reference)
            .map((k) => col.get(k)!),
        ),
      });
      const out = await run([
        '--dataset',
        'cirr',
        '--split',
        'val',
        '--data-root',
        D,
        '--scores',
        npyFile(raw.length, names.length, toFloat32(m)),
      ]);
      expect(out.n).toBe(4181);
      for (const k of [1, 2, 5, 10, 50]) expect(out.hits[`recall@${k}`]).toBe(rv.expected.recall.hits[k]);
      for (const k of [1, 2, 3])
        expect(out.hits[`recall_subset@${k}`]).toBe(rv.expected.recall_subset.hits[k]);
      for (const [k, p] of Object.entries(rv.expected.recall.percent_official_clip4cir_searle_cirevl))
        expect(Math.abs(out.metrics[`recall@${k}`]! - (p as number))).toBeLessThan(1e-4);
      for (const [k, p] of Object.entries(rv.expected.recall_subset.percent_official_clip4cir_searle_cirevl))
        expect(Math.abs(out.metrics[`recall_subset@${k}`]! - (p as number))).toBeLessThan(1e-4);

      const narrow = npyFile(4181, 2296, new Float32Array(4181 * 2296));
      const bad = await pefuse([
        'evaluate',
        '--dataset',
        'cirr',
        '--split',
        'val',
        '--data-root',
        D,
        '--scores',
        narrow,
      ]);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toBe(
        `pefuse evaluate: --scores ${narrow}: has 2296 columns but the CIRR val gallery has 2297 images (split-file key order)\n`,
      );
    },
  );

  itWithShared('refvectors/fashioniq_val.seed2001-2002-2003.json', ...FIQ_VAL)(
    'Fashion-IQ val --scores, each category (cir-v1 seeds 2001-2003)',
    async () => {
      const rv: Any = sharedJson('refvectors', 'fashioniq_val.seed2001-2002-2003.json');
      for (const cat of ['dress', 'shirt', 'toptee']) {
        const c = rv.categories[cat];
        const caps = sharedJson<Any[]>('datasets', 'fashion-iq', 'captions', `cap.${cat}.val.json`);
        const names = sharedJson<string[]>('datasets', 'fashion-iq', 'image_splits', `split.${cat}.val.json`);
        const col = new Map(names.map((n, j) => [n, j]));
        const m = cirV1({
          seed: c.generator.seed,
          numGallery: names.length,
          refIdx: caps.map((r) => col.get(r.candidate)!),
          tgtIdx: caps.map((r) => col.get(r.target)!),
        });
        const out = await run([
          '--dataset',
          'fashioniq',
          '--split',
          'val',
          '--category',
          cat,
          '--data-root',
          join(D, 'fashion-iq'),
          '--scores',
          npyFile(caps.length, names.length, toFloat32(m)),
        ]);
        expect(out.hits).toEqual({ 'recall@10': c.expected.hits['10'], 'recall@50': c.expected.hits['50'] });
        for (const [k, p] of Object.entries(c.expected.percent_official_clip4cir_searle))
          expect(Math.abs(out.metrics[`recall@${k}`]! - (p as number))).toBeLessThan(1e-4);
      }
    },
  );

  itWithShared('refvectors/genecis_focus_object.seed4001.json', 'datasets/genecis/focus_object.json')(
    'GeneCIS focus_object --scores (stored scores, seed 4001)',
    async () => {
      const rv: Any = sharedJson('refvectors', 'genecis_focus_object.seed4001.json');
      const rows: number[][] = rv.inputs.scores;
      const out = await run([
        '--dataset',
        'genecis',
        '--split',
        'val',
        '--task',
        'focus_object',
        '--data-root',
        join(D, 'genecis'),
        '--scores',
        npyFile(rows.length, 15, Float64Array.from(rows.flat())),
      ]);
      expect(out.hits).toEqual({
        'recall@1': rv.expected.hits['1'],
        'recall@2': rv.expected.hits['2'],
        'recall@3': rv.expected.hits['3'],
      });
      for (const [k, f] of Object.entries(rv.expected.fraction_official_genecis_validate))
        expect(Math.abs(out.metrics[`recall@${k.slice(2)}`]! / 100 - (f as number))).toBeLessThan(1e-12);
    },
  );

  itWithShared('refvectors/circo_val.seed6001.json', 'datasets/circo/annotations/val.json')(
    'CIRCO val --rankings (stored predictions, seed 6001), warning about the absent gallery list',
    async () => {
      const rv: Any = sharedJson('refvectors', 'circo_val.seed6001.json');
      const r = await pefuse([
        'evaluate',
        '--dataset',
        'circo',
        '--split',
        'val',
        '--data-root',
        join(D, 'circo'),
        '--rankings',
        jsonFile(rv.inputs.predictions),
        '--json',
      ]);
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toMatch(/^pefuse evaluate: warning: CIRCO gallery unknown: /);
      const out = JSON.parse(r.stdout);
      for (const [k, f] of Object.entries(rv.expected.map_at_k_fraction_official))
        expect(Math.abs(out.metrics[`map@${k}`] / 100 - (f as number))).toBeLessThan(1e-12);
      for (const [k, f] of Object.entries(rv.expected.recall_at_k_fraction_official))
        expect(Math.abs(out.metrics[`recall@${k}`] / 100 - (f as number))).toBeLessThan(1e-12);
      for (const [a, f] of Object.entries(rv.expected.semantic_map_at10_fraction_official))
        expect(Math.abs(out.metrics[`map@10/${a}`] / 100 - (f as number))).toBeLessThan(1e-12);
    },
  );
});
