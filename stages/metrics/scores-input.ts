/**
 * A user-given score matrix (`--scores FILE.npy`) → per-query rankings. Rows follow the annotation file's
 * query order, columns the dataset's canonical gallery order (GeneCIS: `[target] + gallery` per row).
 * Shape, dtype and NaN problems are user errors with exact messages; ranking uses the canonical tie rule
 * (`rank-scores.ts`). CIRR's reference column is excluded here, as the official code does.
 */
import { NPY_DTYPE_NAMES, type NpyArray, type NpyDtype } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { LoadedDataset } from '../datasets/types.js';
import { datasetLabel, galleryOrder } from './describe.js';
import { firstNonFinite, orderColumns, topKRow } from './rank-scores.js';
import type { RankedQuery } from './recall.js';

export interface ScoreRankOptions {
  /** How many columns to keep per row (default 50, the largest official K; GeneCIS: all). */
  k?: number;
  /** The flag (and file) the matrix came from, for messages: `--scores FILE`. */
  label?: string;
  /** The annotation file, for messages about the dataset itself (GeneCIS gallery sizes). */
  annotationFile?: string;
}

/** The dtypes a score matrix may have (`parseNpy(..., { dtypes: SCORE_DTYPES })`). */
export const SCORE_DTYPES: readonly NpyDtype[] = ['<f4', '<f8'];

export function rankingsFromScores(
  loaded: LoadedDataset,
  npy: NpyArray,
  opts: ScoreRankOptions = {},
): Result<RankedQuery[], string> {
  const label = opts.label ?? '--scores';
  const name = datasetLabel(loaded);
  if (!SCORE_DTYPES.includes(npy.dtype))
    return err(
      `${label}: unsupported .npy dtype ${NPY_DTYPE_NAMES[npy.dtype]} (${npy.dtype}): expected float32 or float64, little-endian`,
    );
  if (npy.shape.length !== 2)
    return err(`${label}: must be a 2-D matrix [queries, gallery], got shape (${npy.shape.join(', ')})`);
  const [rows, cols] = npy.shape as [number, number];
  const nq = loaded.queries.length;
  if (rows !== nq)
    return err(`${label}: has ${rows} rows but ${name} has ${nq} queries (annotation-file order)`);

  let expectedCols: number;
  if (loaded.dataset === 'genecis') {
    const sizeOf = (i: number) => loaded.queries[i]?.gallery?.length ?? 0;
    const sizes = new Set(loaded.queries.map((_, i) => sizeOf(i)));
    if (sizes.size !== 1) {
      // The majority size is the normal one; the first sample of another size is the one to look at.
      const count = new Map<number, number>();
      for (let i = 0; i < nq; i++) count.set(sizeOf(i), (count.get(sizeOf(i)) ?? 0) + 1);
      const common = [...count.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
      const odd = loaded.queries.findIndex((_, i) => sizeOf(i) !== common);
      const file = opts.annotationFile ?? loaded.files[0] ?? name;
      return err(
        `${label}: ${name} samples have galleries of different sizes (${[...sizes].sort((a, b) => a - b).join(', ')}): ` +
          `${file}: record ${odd} has ${sizeOf(odd)} candidates ([target] + gallery) where most have ${common}; ` +
          'a score matrix cannot hold them: use --rankings',
      );
    }
    expectedCols = [...sizes][0]!;
    if (cols !== expectedCols)
      return err(
        `${label}: has ${cols} columns but ${name} samples have ${expectedCols} candidates each (${galleryOrder(loaded)})`,
      );
  } else {
    if (!loaded.galleryKnown)
      return err(
        `${label}: cannot be mapped to image ids: ${loaded.warnings.join('; ')}. Use --rankings instead`,
      );
    expectedCols = loaded.gallery.length;
    if (cols !== expectedCols)
      return err(
        `${label}: has ${cols} columns but the ${name} gallery has ${expectedCols} images (${galleryOrder(loaded)})`,
      );
  }

  const data = npy.data as Float32Array | Float64Array;
  const bad = firstNonFinite(data);
  if (bad >= 0) {
    const r = Math.floor(bad / cols);
    return err(
      `${label}: has ${String(data[bad])} at row ${r}, column ${bad % cols} (query "${loaded.queries[r]!.id}"); ` +
        'scores must be finite numbers',
    );
  }

  const k = opts.k ?? (loaded.dataset === 'genecis' ? cols : 50);
  const column = new Map(loaded.gallery.map((g, j) => [g.id, j]));
  const out: RankedQuery[] = [];
  for (let i = 0; i < rows; i++) {
    const row = data.subarray(i * cols, (i + 1) * cols);
    const q = loaded.queries[i]!;
    if (loaded.dataset === 'genecis') {
      out.push({ ids: Array.from(topKRow(row, k), String) });
      continue;
    }
    const exclude = loaded.dataset === 'cirr' ? (column.get(q.reference.id) ?? -1) : -1;
    const ids = Array.from(topKRow(row, k, exclude), (j) => loaded.gallery[j]!.id);
    if (loaded.dataset === 'cirr') {
      const members = (q.subset ?? []).filter((m) => m !== q.reference.id).map((m) => column.get(m)!);
      out.push({ ids, subset: orderColumns(row, members).map((j) => loaded.gallery[j]!.id) });
    } else out.push({ ids });
  }
  return ok(out);
}
