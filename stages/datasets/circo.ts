/**
 * CIRCO loader: queries from `annotations/<split>.json` (`id` == array index, checked), gallery = ALL COCO
 * 2017 unlabeled images, in the order of `COCO2017_unlabeled/annotations/image_info_unlabeled2017.json`
 * (as `miccunifi/CIRCO:src/dataset.py`). When that file is absent the gallery is the listing of
 * `COCO2017_unlabeled/unlabeled2017/` sorted by name, with a warning; when both are absent the gallery is
 * unknown (rankings can still be evaluated, a score matrix cannot be mapped to ids). Ids are the COCO int
 * ids as decimal strings.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { QueryRecord } from '../contracts.js';
import { type DatasetError, RecordReader, recordError } from './errors.js';
import { DatasetFolders, pathEscapes } from './folders.js';
import { ContentHasher, expectArray, expectNonEmpty, expectObject, readJson } from './read.js';
import type { LoadedDataset, LoadedGalleryItem, LoadOptions } from './types.js';

const INFO_REL = ['COCO2017_unlabeled', 'annotations', 'image_info_unlabeled2017.json'];
const IMAGES_REL = ['COCO2017_unlabeled', 'unlabeled2017'];

/** COCO file name of an image id (`000000123456.jpg`), used when the info file is absent. */
export function cocoFileName(id: string): string {
  return `${id.padStart(12, '0')}.jpg`;
}

export async function loadCirco(opts: LoadOptions): Promise<Result<LoadedDataset, DatasetError>> {
  const root = resolve(opts.root);
  const imageDir = opts.imageRoot !== undefined ? resolve(opts.imageRoot) : join(root, ...IMAGES_REL);
  const hasher = new ContentHasher(root);
  const annFile = join(root, 'annotations', `${opts.split}.json`);
  const annJson = await readJson(
    annFile,
    `CIRCO ${opts.split} annotations; the dataset root must contain annotations/`,
    hasher,
  );
  if (!annJson.ok) return annJson;

  const warnings: string[] = [];
  const folders = new DatasetFolders(root, opts.imageRoot !== undefined ? imageDir : null);
  const galleryResult = await loadGallery(root, imageDir, folders, hasher, warnings);
  if (!galleryResult.ok) return galleryResult;
  const gallery = galleryResult.value;
  const pathOf = new Map(gallery?.map((g) => [g.id, g.path]) ?? []);

  const records = expectArray(annFile, annJson.value);
  if (!records.ok) return records;
  const noQueries = expectNonEmpty(annFile, records.value.length, 'queries');
  if (!noQueries.ok) return noQueries;
  const val = opts.split === 'val';
  const queries: QueryRecord[] = [];
  for (const [i, raw] of records.value.entries()) {
    const r = new RecordReader(annFile, i);
    const rec = r.object(raw, '(record)');
    const id = r.int(rec.id, 'id');
    const ref = String(r.int(rec.reference_img_id, 'reference_img_id'));
    const caption = r.string(rec.relative_caption, 'relative_caption');
    const concept = r.string(rec.shared_concept, 'shared_concept');
    let targets: string[] = [];
    let aspects: string[] | undefined;
    let target = '';
    if (val) {
      target = String(r.int(rec.target_img_id, 'target_img_id'));
      const gts = r.array(rec.gt_img_ids, 'gt_img_ids');
      targets = gts.map((g, j) => String(r.int(g, `gt_img_ids[${j}]`)));
      aspects = r.stringArray(rec.semantic_aspects, 'semantic_aspects');
      if (r.error === null && targets.length === 0)
        r.fail('gt_img_ids', 'expected at least one ground-truth id');
      const dup = targets.findIndex((t, j) => targets.indexOf(t) !== j);
      if (r.error === null && dup >= 0)
        r.fail(`gt_img_ids[${dup}]`, `duplicate ground-truth id ${targets[dup]}`);
      // The README states it and the server's Recall@K reads target_img_id while the GT list comes first.
      if (r.error === null && target !== targets[0])
        r.fail(
          'target_img_id',
          `${target} differs from gt_img_ids[0] ${targets[0]} (CIRCO's target is always the first ground truth)`,
        );
    }
    if (r.error === null && id !== i)
      r.fail(
        'id',
        `expected ${i} (the record's index: the evaluation server looks queries up by position), got ${id}`,
      );
    if (r.error !== null) return err(r.error);
    queries.push({
      id: String(id),
      reference: { id: ref, path: pathOf.get(ref) ?? join(imageDir, cocoFileName(ref)) },
      text: caption,
      targets,
      ...(aspects !== undefined ? { aspects } : {}),
      extra: val ? { shared_concept: concept, target_img_id: target } : { shared_concept: concept },
    });
  }

  return ok({
    dataset: 'circo',
    split: opts.split,
    subset: null,
    root,
    queries,
    gallery: gallery ?? [],
    galleryKnown: gallery !== null,
    hasGroundTruth: val,
    contentHash: hasher.digest(),
    files: hasher.files,
    warnings,
  });
}

/** The gallery from the COCO info file, else the image folder listing (warned), else null (warned). */
async function loadGallery(
  root: string,
  imageDir: string,
  folders: DatasetFolders,
  hasher: ContentHasher,
  warnings: string[],
): Promise<Result<LoadedGalleryItem[] | null, DatasetError>> {
  const infoFile = join(root, ...INFO_REL);
  const info = await readJson(infoFile, 'COCO 2017 unlabeled image list', hasher);
  if (info.ok) {
    const top = expectObject(infoFile, info.value);
    if (!top.ok) return top;
    const images = top.value.images;
    if (!Array.isArray(images))
      return err(recordError(infoFile, null, 'images', 'expected an array of {id, file_name} records'));
    const gallery: LoadedGalleryItem[] = [];
    for (const [i, raw] of images.entries()) {
      const r = new RecordReader(infoFile, i);
      const rec = r.object(raw, 'images[]');
      const id = r.int(rec.id, 'images[].id');
      const file = r.string(rec.file_name, 'images[].file_name');
      if (r.error !== null) return err(r.error);
      const path = join(imageDir, file);
      if (!folders.contains(path)) return err(pathEscapes(infoFile, i, 'images[].file_name', path, folders));
      gallery.push({ id: String(id), path });
    }
    return ok(gallery);
  }
  if (info.error.kind !== 'file-missing') return info;

  let names: string[];
  try {
    names = await readdir(imageDir);
  } catch {
    warnings.push(
      `CIRCO gallery unknown: neither ${infoFile} nor the image folder ${imageDir} exists; ` +
        'rankings can be evaluated, but score matrices cannot be mapped to image ids',
    );
    return ok(null);
  }
  const images = names.filter((n) => /^\d+\.(jpe?g|png)$/i.test(n)).sort();
  hasher.add(`${imageDir}/`, new TextEncoder().encode(images.join('\n')));
  warnings.push(
    `CIRCO gallery taken from the listing of ${imageDir} (${images.length} images, sorted by name) because ` +
      `${infoFile} is absent; score columns must follow that order`,
  );
  return ok(images.map((n) => ({ id: String(Number.parseInt(n, 10)), path: join(imageDir, n) })));
}
