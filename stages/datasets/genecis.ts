/**
 * GeneCIS loader: `<root>/<task>.json`, an array of `{reference, target, condition, gallery}` templates.
 * Each sample has its own gallery `[target] + gallery` (target at index 0, as the official
 * `COCOValSubset` / `VAWValSubset` build it), kept in `QueryRecord.gallery`; rankings and score columns
 * refer to positions in it. Object tasks use COCO val2017 ids (`<imageRoot>/<id:012d>.jpg`, default
 * imageRoot `<root>/val2017`); attribute tasks use Visual Genome crops (`<imageRoot>/<image_id>.jpg` cut
 * by `genecis-crop.ts`, default imageRoot `<root>/VG_100K_all`), whose ids are `<image_id>@x,y,w,h`.
 * GeneCIS has no splits: only `val` is accepted.
 */
import { join, resolve } from 'node:path';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { QueryRecord } from '../contracts.js';
import { type DatasetError, optionError, RecordReader } from './errors.js';
import { DatasetFolders, pathEscapes } from './folders.js';
import { ContentHasher, expectArray, expectNonEmpty, readJson } from './read.js';
import type { LoadedDataset, LoadedGalleryItem, LoadOptions } from './types.js';

type Box = [number, number, number, number];
interface Entry {
  id: string;
  path: string;
  bbox?: Box;
}

export async function loadGenecis(opts: LoadOptions): Promise<Result<LoadedDataset, DatasetError>> {
  const task = opts.task;
  if (task === undefined)
    return err(
      optionError('GeneCIS needs a task (focus_attribute, change_attribute, focus_object or change_object)'),
    );
  if (opts.split !== 'val') return err(optionError('GeneCIS has a single evaluation split: use --split val'));
  const root = resolve(opts.root);
  const objects = task.endsWith('_object');
  const imageDir =
    opts.imageRoot !== undefined ? resolve(opts.imageRoot) : join(root, objects ? 'val2017' : 'VG_100K_all');
  const folders = new DatasetFolders(root, opts.imageRoot !== undefined ? imageDir : null);
  const hasher = new ContentHasher(root);
  const file = join(root, `${task}.json`);
  const json = await readJson(
    file,
    `GeneCIS ${task} templates; the dataset root must contain the task JSON files`,
    hasher,
  );
  if (!json.ok) return json;
  const records = expectArray(file, json.value);
  if (!records.ok) return records;
  const noQueries = expectNonEmpty(file, records.value.length, 'queries');
  if (!noQueries.ok) return noQueries;

  /** The first record path that leaves the dataset's folders (checked after each record). */
  const escaped: { error: DatasetError | null } = { error: null };
  const entry = (r: RecordReader, v: unknown, field: string): Entry => {
    const e = readEntry(r, v, field);
    if (escaped.error === null && r.error === null && !folders.contains(e.path))
      escaped.error = pathEscapes(
        file,
        r.index,
        `${field}.${objects ? 'val_image_id' : 'image_id'}`,
        e.path,
        folders,
      );
    return e;
  };
  const readEntry = (r: RecordReader, v: unknown, field: string): Entry => {
    const o = r.object(v, field);
    if (objects) {
      const id = String(r.int(o.val_image_id, `${field}.val_image_id`));
      return { id, path: join(imageDir, `${id.padStart(12, '0')}.jpg`) };
    }
    const imageId = r.id(o.image_id, `${field}.image_id`);
    const box = r
      .array(o.instance_bbox, `${field}.instance_bbox`)
      .map((x, k) => r.number(x, `${field}.instance_bbox[${k}]`));
    if (r.error === null && (box.length !== 4 || box[2]! <= 0 || box[3]! <= 0))
      r.fail(`${field}.instance_bbox`, `expected [x, y, w, h] with w, h > 0, got ${JSON.stringify(box)}`);
    const bbox = box as Box;
    return { id: `${imageId}@${bbox.join(',')}`, path: join(imageDir, `${imageId}.jpg`), bbox };
  };

  const queries: QueryRecord[] = [];
  const gallery: LoadedGalleryItem[] = [];
  const inGallery = new Set<string>();
  for (const [i, raw] of records.value.entries()) {
    const r = new RecordReader(file, i);
    const rec = r.object(raw, '(record)');
    const ref = entry(r, rec.reference, 'reference');
    const target = entry(r, rec.target, 'target');
    const condition = r.string(rec.condition, 'condition');
    const items = r.array(rec.gallery, 'gallery').map((g, k) => entry(r, g, `gallery[${k}]`));
    if (r.error === null && items.length === 0) r.fail('gallery', 'expected at least one gallery image');
    if (r.error !== null) return err(r.error);
    if (escaped.error !== null) return err(escaped.error);
    const sample = [target, ...items];
    for (const g of sample) {
      if (inGallery.has(g.id)) continue;
      inGallery.add(g.id);
      gallery.push({ id: g.id, path: g.path, ...(g.bbox ? { bbox: g.bbox } : {}) });
    }
    queries.push({
      id: String(i),
      reference: { id: ref.id, path: ref.path, ...(ref.bbox ? { bbox: ref.bbox } : {}) },
      text: condition,
      targets: [target.id],
      gallery: sample.map((g) => g.id),
    });
  }

  return ok({
    dataset: 'genecis',
    split: 'val',
    subset: task,
    root,
    queries,
    gallery,
    galleryKnown: true,
    hasGroundTruth: true,
    contentHash: hasher.digest(),
    files: hasher.files,
    warnings: [],
  });
}
