import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../runner/util/npy.js';
import { itWithShared, pefuse, SHARED, tempDir } from '../helpers/cli.js';
import { cirrRoot, writeJson } from '../stages/datasets/fixtures.js';
import { mulberry32, permV1, sharedJson, toFloat32 } from '../stages/metrics/refvector-gen.js';

// biome-ignore lint/suspicious/noExplicitAny: submission JSON is read loosely and checked value by value
type Any = any;

function npyFile(rows: number, cols: number, data: Float32Array): string {
  const file = join(tempDir('pefuse-export-'), 'scores.npy');
  writeFileSync(file, encodeNpy({ dtype: '<f4', shape: [rows, cols], data }));
  return file;
}

const readOut = (dir: string, name: string): Any => JSON.parse(readFileSync(join(dir, name), 'utf8'));

/** The shape of an official example: same keys, same value types, same list lengths. */
function shapeOf(sub: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(sub).map(([k, v]) => [
      k,
      Array.isArray(v)
        ? `${v.length} x ${[...new Set(v.map((x) => typeof x))].join('|')}`
        : JSON.stringify(v),
    ]),
  );
}

const CIRR_FILES = (split: string) => [
  `datasets/cirr/captions/cap.rc2.${split}.json`,
  `datasets/cirr/image_splits/split.rc2.${split}.json`,
];
const CIRCO_TEST = [
  'datasets/circo/annotations/test.json',
  'datasets/circo/submission_examples/submission_test.json',
];

describe('pefuse export', () => {
  it('checks the --run point id and wants exactly one source', async () => {
    const root = cirrRoot();
    const base = ['export', '--dataset', 'cirr', '--split', 'test', '--data-root', root, '--out', tempDir()];
    const r = await pefuse([...base, '--run', 'p1']);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      'pefuse export: --run p1: a point id is hexadecimal (digits 0-9 and letters a-f), as `pefuse status` or `pefuse plan --json` print it\n',
    ]);
    const short = await pefuse([...base, '--run', 'abc']);
    expect([short.exitCode, short.stderr]).toEqual([
      2,
      'pefuse export: --run abc: give at least 4 (and at most 64) characters of the point id, as `pefuse status` or `pefuse plan --json` print it\n',
    ]);
    const none = await pefuse(base);
    expect([none.exitCode, none.stderr]).toEqual([
      2,
      'pefuse export: give exactly one of --run POINT, --scores FILE.npy or --rankings FILE.json\n',
    ]);
    const fiq = await pefuse([
      'export',
      '--dataset',
      'fashioniq',
      '--split',
      'test',
      '--data-root',
      root,
      '--out',
      tempDir(),
      '--scores',
      'x.npy',
    ]);
    expect([fiq.exitCode, fiq.stderr]).toEqual([
      2,
      'pefuse export: --dataset must be one of cirr, circo, got "fashioniq"\n',
    ]);
  });

  it('writes the two CIRR files from --scores', async () => {
    const root = cirrRoot();
    const out = join(tempDir(), 'sub');
    const scores = npyFile(
      3,
      8,
      Float32Array.from({ length: 24 }, (_, i) => 24 - i),
    );
    const r = await pefuse([
      'export',
      '--dataset',
      'cirr',
      '--split',
      'test',
      '--data-root',
      root,
      '--scores',
      scores,
      '--out',
      out,
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      `wrote ${join(out, 'test1_pred_ranks_recall.json')} (3 queries, top-50)\n` +
        `wrote ${join(out, 'test1_pred_ranks_recall_subset.json')} (3 queries, top-3)\n`,
    );
    expect(readOut(out, 'test1_pred_ranks_recall_subset.json')).toEqual({
      version: 'rc2',
      metric: 'recall_subset',
      100: ['dev-1-0-img0', 'dev-2-0-img0', 'dev-3-0-img0'],
      101: ['dev-3-0-img0', 'dev-4-0-img0', 'dev-5-0-img0'],
      102: ['dev-0-0-img0', 'dev-1-0-img0', 'dev-2-0-img0'],
    });
  });
});

describe('pefuse export --out: folders that cannot hold the files (exit 2, nothing half-written)', () => {
  const args = (out: string) => {
    const scores = npyFile(
      3,
      8,
      Float32Array.from({ length: 24 }, (_, i) => 24 - i),
    );
    return [
      'export',
      '--dataset',
      'cirr',
      '--split',
      'test',
      '--data-root',
      cirrRoot(),
      '--scores',
      scores,
      '--out',
      out,
    ];
  };

  it('an existing file, or a path through one', async () => {
    const file = join(tempDir(), 'notes.txt');
    writeFileSync(file, 'x');
    const r = await pefuse(args(file));
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      `pefuse export: --out ${file}: is a file, not a folder; give a folder for the submission files\n`,
    ]);
    const below = join(file, 'sub');
    const r2 = await pefuse(args(below));
    expect([r2.exitCode, r2.stderr]).toEqual([
      2,
      `pefuse export: --out ${below}: ${file} is a file, not a folder, so the folder cannot be created there\n`,
    ]);
  });

  it('a folder in the way of one file: neither file is written', async () => {
    const out = tempDir();
    mkdirSync(join(out, 'test1_pred_ranks_recall_subset.json'));
    const r = await pefuse(args(out));
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      `pefuse export: --out ${out}: test1_pred_ranks_recall_subset.json is a folder, so the submission file cannot be written there; move it away or choose another --out\n`,
    ]);
    expect(readdirSync(out)).toEqual(['test1_pred_ranks_recall_subset.json']);
  });

  it.skipIf(!existsSync('/proc/self'))(
    'a folder that cannot be created or written (Linux /proc) fails at once instead of hanging',
    async () => {
      const r = await pefuse(args('/proc/pefuse-test'), { timeout: 30_000 });
      expect([r.exitCode, r.stderr]).toEqual([
        2,
        'pefuse export: --out /proc/pefuse-test: cannot create the folder /proc/pefuse-test (ENOENT); choose another --out\n',
      ]);
      const w = await pefuse(args('/proc/self'), { timeout: 30_000 });
      expect([w.exitCode, w.stderr]).toEqual([
        2,
        'pefuse export: --out /proc/self: cannot write test1_pred_ranks_recall.json (ENOENT); nothing was written\n',
      ]);
    },
  );
});

describe('pefuse export against the reference vector and the official examples (../shared)', () => {
  const D = join(SHARED, 'datasets');

  itWithShared(
    'refvectors/cirr_test1_export.seed3001.json',
    ...CIRR_FILES('test1'),
    'datasets/cirr/demo_files/test1_pred_ranks_recall.json',
    'datasets/cirr/demo_files/test1_pred_ranks_recall_subset.json',
  )("CIRR test1 --scores: matches cirr_test1_export.seed3001 and the demo files' shape", async () => {
    const rv: Any = sharedJson('refvectors', 'cirr_test1_export.seed3001.json');
    const caps = sharedJson<Any[]>('datasets', 'cirr', 'captions', 'cap.rc2.test1.json');
    const names = Object.keys(
      sharedJson<Record<string, string>>('datasets', 'cirr', 'image_splits', 'split.rc2.test1.json'),
    );
    const col = new Map(names.map((n, j) => [n, j]));
    // perm-v1 over ALL queries: the stream starts at query 0, so rows 0..999 are the refvector's rows.
    const m = permV1(
      rv.generator.seed,
      names.length,
      caps.map((c) => col.get(c.reference)!),
    );
    const out = tempDir();
    const r = await pefuse([
      'export',
      '--dataset',
      'cirr',
      '--split',
      'test',
      '--data-root',
      D,
      '--scores',
      npyFile(caps.length, names.length, toFloat32(m)),
      '--out',
      out,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const recall = readOut(out, 'test1_pred_ranks_recall.json');
    const subset = readOut(out, 'test1_pred_ranks_recall_subset.json');
    for (const [mine, expected] of [
      [recall, rv.expected.recall_submission],
      [subset, rv.expected.recall_subset_submission],
    ] as const)
      expect(Object.fromEntries(Object.keys(expected).map((k) => [k, mine[k]]))).toEqual(expected);
    const demoRecall = sharedJson<Any>('datasets', 'cirr', 'demo_files', 'test1_pred_ranks_recall.json');
    const demoSubset = sharedJson<Any>(
      'datasets',
      'cirr',
      'demo_files',
      'test1_pred_ranks_recall_subset.json',
    );
    expect(shapeOf(recall)).toEqual(shapeOf(demoRecall));
    expect(shapeOf(subset)).toEqual(shapeOf(demoSubset));
    const gallery = new Set(names);
    for (const [k, v] of Object.entries(recall))
      if (Array.isArray(v))
        expect(
          v.every((n) => gallery.has(n)),
          k,
        ).toBe(true);
  });

  itWithShared(...CIRCO_TEST)(
    'CIRCO test --rankings: re-exporting the official example gives it back unchanged',
    async () => {
      const example = sharedJson<Any>('datasets', 'circo', 'submission_examples', 'submission_test.json');
      const out = tempDir();
      const r = await pefuse([
        'export',
        '--dataset',
        'circo',
        '--split',
        'test',
        '--data-root',
        join(D, 'circo'),
        '--rankings',
        join(D, 'circo', 'submission_examples', 'submission_test.json'),
        '--out',
        out,
      ]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readdirSync(out)).toEqual(['circo_test_submission.json']);
      expect(readOut(out, 'circo_test_submission.json')).toEqual(example);
    },
  );

  itWithShared(...CIRCO_TEST)(
    'CIRCO test --scores: 800 keys "0".."799", 50 unique int ids each (the example\'s shape)',
    async () => {
      const root = tempDir();
      symlinkSync(join(D, 'circo', 'annotations'), join(root, 'annotations'));
      const ids = Array.from({ length: 500 }, (_, i) => 100_000 + 7 * i);
      writeJson(root, 'COCO2017_unlabeled/annotations/image_info_unlabeled2017.json', {
        images: ids.map((id) => ({ id, file_name: `${String(id).padStart(12, '0')}.jpg` })),
      });
      const next = mulberry32(99);
      const scores = Float32Array.from({ length: 800 * ids.length }, () => next() >>> 20);
      const out = tempDir();
      const r = await pefuse([
        'export',
        '--dataset',
        'circo',
        '--split',
        'test',
        '--data-root',
        root,
        '--scores',
        npyFile(800, ids.length, scores),
        '--out',
        out,
      ]);
      expect(r.exitCode, r.stderr).toBe(0);
      const sub = readOut(out, 'circo_test_submission.json');
      const example = sharedJson<Any>('datasets', 'circo', 'submission_examples', 'submission_test.json');
      expect(shapeOf(sub)).toEqual(shapeOf(example));
      const known = new Set(ids);
      for (const v of Object.values(sub) as number[][]) {
        expect(new Set(v).size).toBe(50);
        expect(v.every((id) => known.has(id))).toBe(true);
      }
      // Row 0 is ranked by descending score, ties to the lower column.
      const row0 = Array.from(scores.subarray(0, ids.length).keys()).sort(
        (a, b) => scores[b]! - scores[a]! || a - b,
      );
      expect(sub['0']).toEqual(row0.slice(0, 50).map((j) => ids[j]));
    },
  );
});
