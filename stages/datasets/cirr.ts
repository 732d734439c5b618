/**
 * CIRR loader (annotation branch `cirr_dataset` layout): queries from `cirr/captions/cap.rc2.<split>.json`,
 * gallery = EVERY key of `cirr/image_splits/split.rc2.<split>.json` in key order (not just the images
 * that occur in queries — building it from references is a known bug, CoVR issue #15). Image paths are
 * `root / relpath` as in the official loaders (`images / relpath` when an images folder is given: the folder
 * holding `dev/`, `test1/`, `train/`). Ids are the bare names (no `.png`), queries are keyed by
 * pairid.
 */
import { join, resolve } from 'node:path';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { QueryRecord } from '../contracts.js';
import { type DatasetError, RecordReader, recordError } from './errors.js';
import { DatasetFolders, pathEscapes } from './folders.js';
import { ContentHasher, expectArray, expectNonEmpty, expectObject, readJson } from './read.js';
import type { LoadedDataset, LoadedGalleryItem, LoadOptions } from './types.js';

export async function loadCirr(opts: LoadOptions): Promise<Result<LoadedDataset, DatasetError>> {
  const root = resolve(opts.root);
  const s = opts.split === 'test' ? 'test1' : 'val';
  const imageDir = opts.imageRoot !== undefined ? resolve(opts.imageRoot) : root;
  const folders = new DatasetFolders(root, opts.imageRoot !== undefined ? imageDir : null);
  const hasher = new ContentHasher(root);
  const capFile = join(root, 'cirr', 'captions', `cap.rc2.${s}.json`);
  const splitFile = join(root, 'cirr', 'image_splits', `split.rc2.${s}.json`);

  const capJson = await readJson(
    capFile,
    `CIRR ${s} captions; the dataset root must contain cirr/captions/`,
    hasher,
  );
  if (!capJson.ok) return capJson;
  const splitJson = await readJson(
    splitFile,
    `CIRR ${s} image split; the dataset root must contain cirr/image_splits/`,
    hasher,
  );
  if (!splitJson.ok) return splitJson;

  const splitObj = expectObject(splitFile, splitJson.value);
  if (!splitObj.ok) return splitObj;
  const gallery: LoadedGalleryItem[] = [];
  const inGallery = new Set<string>();
  for (const [name, rel] of Object.entries(splitObj.value)) {
    if (typeof rel !== 'string')
      return err(
        recordError(
          splitFile,
          null,
          name,
          `expected a relative image path string, got ${JSON.stringify(rel)}`,
        ),
      );
    const path = resolve(imageDir, rel);
    if (!folders.contains(path)) return err(pathEscapes(splitFile, name, '(image path)', path, folders));
    gallery.push({ id: name, path });
    inGallery.add(name);
  }
  const noImages = expectNonEmpty(splitFile, gallery.length, 'images');
  if (!noImages.ok) return noImages;
  const pathOf = new Map(gallery.map((g) => [g.id, g.path]));
  const splitName = `split.rc2.${s}.json`;

  const records = expectArray(capFile, capJson.value);
  if (!records.ok) return records;
  const noQueries = expectNonEmpty(capFile, records.value.length, 'queries');
  if (!noQueries.ok) return noQueries;
  const queries: QueryRecord[] = [];
  const seen = new Set<number>();
  const val = s === 'val';
  for (const [i, raw] of records.value.entries()) {
    const r = new RecordReader(capFile, i);
    const rec = r.object(raw, '(record)');
    const pairid = r.int(rec.pairid, 'pairid');
    const reference = r.string(rec.reference, 'reference');
    const caption = r.string(rec.caption, 'caption');
    const imgSet = r.object(rec.img_set, 'img_set');
    const setId = r.int(imgSet.id, 'img_set.id');
    const members = r.stringArray(imgSet.members, 'img_set.members');
    const target = val ? r.string(rec.target_hard, 'target_hard') : null;
    if (r.error === null) {
      if (seen.has(pairid)) r.fail('pairid', `duplicate pairid ${pairid}`);
      if (!inGallery.has(reference)) r.fail('reference', `"${reference}" is not in ${splitName}`);
      if (target !== null && !inGallery.has(target))
        r.fail('target_hard', `"${target}" is not in ${splitName}`);
      const stray = members.findIndex((m) => !inGallery.has(m));
      if (stray >= 0) r.fail(`img_set.members[${stray}]`, `"${members[stray]}" is not in ${splitName}`);
      // What the official metric code asserts (CLIP4Cir / SEARLE: exactly one hit per row, in the ranking
      // without the reference and in the img_set subset).
      if (members.length === 0)
        r.fail('img_set.members', 'expected the img_set members (6 image names), got an empty array');
      if (target !== null && target === reference)
        r.fail(
          'target_hard',
          `equals the reference "${reference}"; the reference is removed from the ranking, so this query could never be a hit`,
        );
      if (target !== null && !members.includes(target))
        r.fail(
          'img_set.members',
          `does not contain target_hard "${target}" (Recall_subset ranks the target among the members)`,
        );
    }
    if (r.error !== null) return err(r.error);
    seen.add(pairid);
    queries.push({
      id: String(pairid),
      reference: { id: reference, path: pathOf.get(reference)! },
      text: caption,
      targets: target === null ? [] : [target],
      subset: members,
      extra: { img_set_id: String(setId) },
    });
  }

  return ok({
    dataset: 'cirr',
    split: opts.split,
    subset: null,
    root,
    queries,
    gallery,
    galleryKnown: true,
    hasGroundTruth: val,
    contentHash: hasher.digest(),
    files: hasher.files,
    warnings: [],
  });
}
