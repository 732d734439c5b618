/**
 * What a benchmark loader returns. The loaders read annotation files only (never images), so the same
 * object serves `pefuse evaluate` (no images needed), the `dataset` stage (which adds `checkImages`) and
 * the exporters.
 */
import type { DatasetName, GalleryItem, QueryRecord } from '../contracts.js';

/** The four real benchmarks (the synthetic dataset has its own module, `stages/datasets/synthetic/`). */
export type BenchmarkName = Exclude<DatasetName, 'synthetic'>;
export const BENCHMARKS: readonly BenchmarkName[] = ['fashioniq', 'cirr', 'circo', 'genecis'];

/** User-facing split names; CIRR's `test1` files are read for `test`. */
export type SplitName = 'val' | 'test';

export const FASHIONIQ_CATEGORIES = ['dress', 'shirt', 'toptee'] as const;
export type FashionIqCategory = (typeof FASHIONIQ_CATEGORIES)[number];

export const GENECIS_TASKS = [
  'focus_attribute',
  'change_attribute',
  'focus_object',
  'change_object',
] as const;
export type GenecisTask = (typeof GENECIS_TASKS)[number];

export interface LoadOptions {
  dataset: BenchmarkName;
  split: SplitName;
  /**
   * The dataset root in its official layout: CIRR — the folder containing `cirr/` and the image folders;
   * CIRCO — the folder containing `annotations/` (and `COCO2017_unlabeled/`); Fashion-IQ — the folder
   * containing `captions/` and `image_splits/` (images in `images/`); GeneCIS — the folder containing the
   * task JSON files.
   */
  root: string;
  /** Fashion-IQ only (required there). */
  category?: FashionIqCategory;
  /** GeneCIS only (required there); GeneCIS has no splits, `split` must be `val`. */
  task?: GenecisTask;
  /**
   * Where the images are when they are not in the official place under `root` (GeneCIS always needs
   * it unless `<root>/val2017` (COCO, object tasks) or `<root>/VG_100K_all` (attribute tasks) exist).
   */
  imageRoot?: string;
}

/** A gallery image; GeneCIS attribute crops also carry their box (the crop is cut by `genecis-crop.ts`). */
export interface LoadedGalleryItem extends GalleryItem {
  bbox?: [number, number, number, number];
}

export interface LoadedDataset {
  dataset: BenchmarkName;
  split: SplitName;
  /** Fashion-IQ category or GeneCIS task; null for CIRR and CIRCO. */
  subset: string | null;
  root: string;
  queries: QueryRecord[];
  /**
   * The gallery in canonical column order (CIRR: split-file key order; Fashion-IQ: split array order;
   * CIRCO: image-info order). GeneCIS: every distinct image (or crop) used by any sample, first-seen
   * order — its metrics use the per-sample `QueryRecord.gallery` instead.
   */
  gallery: LoadedGalleryItem[];
  /** False when the CIRCO gallery list could not be found (rankings can still be evaluated). */
  galleryKnown: boolean;
  /** False on test splits (CIRR test1, CIRCO test, Fashion-IQ test): no targets, server evaluation only. */
  hasGroundTruth: boolean;
  /**
   * sha256 over the annotation files read, in a fixed order, each framed as `<relative path>\0<byte
   * length>\0<bytes>` (a folder listing, when used, counts as a file named `<dir>/`). Goes into stage keys.
   */
  contentHash: string;
  /** The annotation files read (absolute paths), in hashing order. */
  files: string[];
  /** Non-fatal problems (e.g. the CIRCO gallery was taken from the image folder listing). */
  warnings: string[];
}
