/**
 * Fashion-IQ loader: one category at a time. Queries from `captions/cap.<cat>.<split>.json` (`candidate`
 * is the reference), gallery = `image_splits/split.<cat>.<split>.json` in array order (the category's own
 * gallery; the reference stays in it). Images are `images/<asin>.jpg` (CLIP4Cir/SEARLE layout). Queries
 * are keyed by row index.
 */
import { join, resolve } from 'node:path';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { QueryRecord } from '../contracts.js';
import { type DatasetError, optionError, RecordReader, recordError } from './errors.js';
import { DatasetFolders, pathEscapes } from './folders.js';
import { ContentHasher, expectArray, expectNonEmpty, readJson } from './read.js';
import type { LoadedDataset, LoadedGalleryItem, LoadOptions } from './types.js';

/** Python's `s.strip('.?, ')`, used by the baselines when joining the two captions. */
export function stripCaption(s: string): string {
  return s.replace(/^[.?, ]+|[.?, ]+$/g, '');
}

export async function loadFashionIq(opts: LoadOptions): Promise<Result<LoadedDataset, DatasetError>> {
  const cat = opts.category;
  if (cat === undefined) return err(optionError('Fashion-IQ needs a category (dress, shirt or toptee)'));
  const root = resolve(opts.root);
  const imageDir = opts.imageRoot !== undefined ? resolve(opts.imageRoot) : join(root, 'images');
  const folders = new DatasetFolders(root, opts.imageRoot !== undefined ? imageDir : null);
  const hasher = new ContentHasher(root);
  const capFile = join(root, 'captions', `cap.${cat}.${opts.split}.json`);
  const splitFile = join(root, 'image_splits', `split.${cat}.${opts.split}.json`);

  const capJson = await readJson(
    capFile,
    `Fashion-IQ ${cat} ${opts.split} captions; the dataset root must contain captions/`,
    hasher,
  );
  if (!capJson.ok) return capJson;
  const splitJson = await readJson(
    splitFile,
    `Fashion-IQ ${cat} ${opts.split} split; the dataset root must contain image_splits/`,
    hasher,
  );
  if (!splitJson.ok) return splitJson;

  const names = expectArray(splitFile, splitJson.value);
  if (!names.ok) return names;
  const gallery: LoadedGalleryItem[] = [];
  const inGallery = new Set<string>();
  for (const [i, name] of names.value.entries()) {
    if (typeof name !== 'string' || name.length === 0)
      return err(
        recordError(
          splitFile,
          i,
          '(image name)',
          `expected an image name string, got ${JSON.stringify(name)}`,
        ),
      );
    if (inGallery.has(name))
      return err(recordError(splitFile, i, '(image name)', `duplicate image name "${name}"`));
    const path = join(imageDir, `${name}.jpg`);
    if (!folders.contains(path)) return err(pathEscapes(splitFile, i, '(image name)', path, folders));
    inGallery.add(name);
    gallery.push({ id: name, path });
  }

  const noImages = expectNonEmpty(splitFile, gallery.length, 'images');
  if (!noImages.ok) return noImages;
  const records = expectArray(capFile, capJson.value);
  if (!records.ok) return records;
  const noQueries = expectNonEmpty(capFile, records.value.length, 'queries');
  if (!noQueries.ok) return noQueries;
  const strayCandidates: number[] = [];
  const withTargets = opts.split === 'val';
  const splitName = `split.${cat}.${opts.split}.json`;
  const queries: QueryRecord[] = [];
  for (const [i, raw] of records.value.entries()) {
    const r = new RecordReader(capFile, i);
    const rec = r.object(raw, '(record)');
    const candidate = r.string(rec.candidate, 'candidate');
    const captions = r.stringArray(rec.captions, 'captions');
    const target = withTargets ? r.string(rec.target, 'target') : null;
    if (r.error === null && captions.length !== 2)
      r.fail('captions', `expected exactly 2 captions, got ${captions.length}`);
    if (r.error === null && target !== null && !inGallery.has(target))
      r.fail('target', `"${target}" is not in ${splitName}`);
    if (r.error !== null) return err(r.error);
    const refPath = join(imageDir, `${candidate}.jpg`);
    if (!folders.contains(refPath)) return err(pathEscapes(capFile, i, 'candidate', refPath, folders));
    if (!inGallery.has(candidate)) strayCandidates.push(i);
    const [c0, c1] = captions as [string, string];
    queries.push({
      id: String(i),
      reference: { id: candidate, path: refPath },
      // CIReVL's instruction form; prompt builders that need another convention use `captions`.
      text: `${stripCaption(c0)} and ${stripCaption(c1)}`,
      captions,
      targets: target === null ? [] : [target],
    });
  }

  const warnings: string[] = [];
  const first = strayCandidates[0];
  if (first !== undefined)
    // Not fatal: the official code never looks the reference up in the gallery (it stays in the ranking
    // only when it is there), but every official val reference is in its split file.
    warnings.push(
      `${capFile}: record ${first}, field "candidate": "${queries[first]!.reference.id}" is not in ${splitName}` +
        (strayCandidates.length > 1 ? ` (nor are ${strayCandidates.length - 1} more candidates)` : '') +
        '; every official reference is in its category gallery: check the category and split files',
    );
  return ok({
    dataset: 'fashioniq',
    split: opts.split,
    subset: cat,
    root,
    queries,
    gallery,
    galleryKnown: true,
    hasGroundTruth: withTargets,
    contentHash: hasher.digest(),
    files: hasher.files,
    warnings,
  });
}
