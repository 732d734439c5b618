/**
 * What `pefuse evaluate` and `pefuse export` share: checking the benchmark flags, loading the dataset and
 * reading `--scores` / `--rankings` into rankings. Every problem is a message for the user (the commands
 * prefix it with their name and exit 2).
 */
import { readFile } from 'node:fs/promises';
import { parseNpy } from '../../runner/util/npy.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import { loadDataset } from '../datasets/index.js';
import {
  BENCHMARKS,
  type BenchmarkName,
  FASHIONIQ_CATEGORIES,
  type FashionIqCategory,
  GENECIS_TASKS,
  type GenecisTask,
  type LoadedDataset,
  type SplitName,
} from '../datasets/types.js';
import { firstDuplicateTopLevelKey } from './json-keys.js';
import { rankingsFromJson } from './rankings-input.js';
import type { RankedQuery } from './recall.js';
import { rankingsFromScores, SCORE_DTYPES } from './scores-input.js';

export interface BenchmarkFlags {
  dataset: string;
  /** Required except for GeneCIS, which has one split. */
  split?: string;
  dataRoot: string;
  category?: string;
  task?: string;
}

/** Checks the flag combination and loads the annotation files (never images). */
export async function loadFromFlags(
  f: BenchmarkFlags,
  allowed: readonly BenchmarkName[] = BENCHMARKS,
): Promise<Result<LoadedDataset, string>> {
  if (!(allowed as readonly string[]).includes(f.dataset))
    return err(`--dataset must be one of ${allowed.join(', ')}, got "${f.dataset}"`);
  const dataset = f.dataset as BenchmarkName;
  if (dataset === 'genecis' && f.split !== undefined && f.split !== 'val')
    return err(`GeneCIS has one split: leave --split out (got "${f.split}")`);
  if (f.split === undefined && dataset !== 'genecis')
    return err(`--dataset ${dataset} needs --split val|${dataset === 'cirr' ? 'test1' : 'test'}`);
  const given = f.split ?? 'val';
  const split = given === 'test1' && dataset === 'cirr' ? 'test' : given;
  if (split !== 'val' && split !== 'test') return err(`--split must be val or test, got "${f.split}"`);
  if (dataset === 'fashioniq') {
    if (f.category === undefined)
      return err(`--dataset fashioniq needs --category ${FASHIONIQ_CATEGORIES.join('|')}`);
    if (!(FASHIONIQ_CATEGORIES as readonly string[]).includes(f.category))
      return err(`--category must be one of ${FASHIONIQ_CATEGORIES.join(', ')}, got "${f.category}"`);
  } else if (f.category !== undefined) return err('--category applies only to --dataset fashioniq');
  if (dataset === 'genecis') {
    if (f.task === undefined) return err(`--dataset genecis needs --task ${GENECIS_TASKS.join('|')}`);
    if (!(GENECIS_TASKS as readonly string[]).includes(f.task))
      return err(`--task must be one of ${GENECIS_TASKS.join(', ')}, got "${f.task}"`);
  } else if (f.task !== undefined) return err('--task applies only to --dataset genecis');
  const loaded = await loadDataset({
    dataset,
    split: split as SplitName,
    root: f.dataRoot,
    ...(f.category !== undefined ? { category: f.category as FashionIqCategory } : {}),
    ...(f.task !== undefined ? { task: f.task as GenecisTask } : {}),
  });
  return loaded.ok ? ok(loaded.value) : err(loaded.error.message);
}

/** `--scores FILE.npy` → rankings (top `k`, default 50). */
export async function readScores(
  loaded: LoadedDataset,
  file: string,
  k?: number,
): Promise<Result<RankedQuery[], string>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    return err(`--scores ${file}: ${describeReadError(e)}`);
  }
  // A plain Uint8Array view: parseNpy's `slice` must copy, and Buffer#slice does not (it returns a view).
  const npy = parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    dtypes: SCORE_DTYPES,
  });
  if (!npy.ok) return err(`--scores ${file}: ${npy.error}`);
  return rankingsFromScores(loaded, npy.value, {
    label: `--scores ${file}`,
    ...(k !== undefined ? { k } : {}),
  });
}

/** `--rankings FILE.json` → rankings. */
export async function readRankings(
  loaded: LoadedDataset,
  file: string,
): Promise<Result<RankedQuery[], string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return err(`--rankings ${file}: ${describeReadError(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return err(`--rankings ${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  // JSON.parse keeps the last of repeated keys silently; a file with two lists for one query is a bug
  // in whatever wrote it.
  const dup = firstDuplicateTopLevelKey(text);
  if (dup !== null)
    return err(`--rankings ${file}: query key "${dup}" appears twice; give exactly one list per query`);
  return rankingsFromJson(loaded, json, `--rankings ${file}`);
}

function describeReadError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  return `cannot be read (${code ?? String(e)})`;
}
