/**
 * Reads a generated synthetic dataset folder into the records every stage sees (QueryRecord /
 * GalleryItem, stages/contracts.ts), plus the oracle captions the dummy backends read.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../../runner/util/json.js';
import { err, ok, type Result } from '../../../runner/util/result.js';
import type { GalleryItem, QueryRecord } from '../../contracts.js';
import { DatasetFolders, pathEscapes } from '../folders.js';
import type { SyntheticAnnotations } from './generate.js';

/** A gallery item of the synthetic benchmark: the contract's fields plus its ground-truth caption. */
export interface SyntheticGalleryItem extends GalleryItem {
  oracle_caption: string;
}

/**
 * A synthetic query: `extra.reference_caption` is the reference image's oracle caption (what the dummy
 * MLLM "sees"), `extra.kind` the kind of modification (colour, shape+colour, …).
 */
export type SyntheticQueryRecord = QueryRecord & { extra: { reference_caption: string; kind: string } };

export interface SyntheticDataset {
  dir: string;
  queries: SyntheticQueryRecord[];
  gallery: SyntheticGalleryItem[];
  /** sha256 of annotations.json (the "content hash of annotation files"). */
  contentHash: string;
  /** Image paths referenced but absent on disk. */
  missing: string[];
}

/** Loads `<dir>/annotations.json`; an error is a message naming the file and what to do. */
export async function loadSyntheticDataset(dir: string): Promise<Result<SyntheticDataset, string>> {
  const file = join(dir, 'annotations.json');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return err(`${file}: not found (the synthetic dataset was not generated, or generation was interrupted)`);
  }
  let ann: SyntheticAnnotations;
  try {
    ann = JSON.parse(bytes.toString('utf8')) as SyntheticAnnotations;
  } catch (e) {
    return err(`${file}: not valid JSON (${(e as Error).message}); delete the folder to regenerate it`);
  }
  if (ann.format !== 'pefuse-synthetic/1' || !Array.isArray(ann.gallery) || !Array.isArray(ann.queries))
    return err(`${file}: not a pefuse synthetic dataset (format "${String(ann.format)}"); delete the folder`);
  const folders = new DatasetFolders(dir, null);
  const gallery: SyntheticGalleryItem[] = [];
  for (const [i, g] of ann.gallery.entries()) {
    const path = join(dir, String(g.file));
    if (!folders.contains(path))
      return err(pathEscapes(file, `gallery[${i}]`, 'file', path, folders).message);
    gallery.push({ id: g.id, path, oracle_caption: g.oracle_caption });
  }
  const byId = new Map(gallery.map((g) => [g.id, g]));
  const queries: SyntheticQueryRecord[] = [];
  for (const [i, q] of ann.queries.entries()) {
    const ref = byId.get(q.reference);
    if (ref === undefined)
      return err(
        `${file}: queries[${i}] (${q.id}) names reference "${q.reference}", absent from the gallery`,
      );
    queries.push({
      id: q.id,
      reference: { id: ref.id, path: ref.path },
      text: q.text,
      targets: [q.target],
      extra: { reference_caption: ref.oracle_caption, kind: q.kind },
    });
  }
  const missing: string[] = [];
  await Promise.all(
    gallery.map(async (g) => {
      try {
        await access(g.path);
      } catch {
        missing.push(g.path);
      }
    }),
  );
  missing.sort();
  return ok({ dir, queries, gallery, contentHash: sha256Hex(bytes), missing });
}
