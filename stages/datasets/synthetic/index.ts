/**
 * The synthetic CIR benchmark of the offline demo: generator, loader and `dataset` stage runner.
 */
export { type Attributes, captionOf, IMAGE_SIZE } from './attributes.js';
export {
  buildAnnotations,
  generateSynthetic,
  MAX_GALLERY,
  SYNTHETIC_DEFAULTS,
  SYNTHETIC_GENERATOR_VERSION,
  SYNTHETIC_LIMITS,
  type SyntheticAnnotations,
  type SyntheticParams,
  syntheticParamsHash,
} from './generate.js';
export {
  loadSyntheticDataset,
  type SyntheticDataset,
  type SyntheticGalleryItem,
  type SyntheticQueryRecord,
} from './load.js';
export { syntheticDatasetRunner, syntheticDir, syntheticParamsOf } from './runner.js';
