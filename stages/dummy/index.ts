/**
 * The dummy backends of the offline demo (no weights, no GPU), for `stages/catalog.ts` to wire:
 *
 *   mllm.compose / mllm.caption  worker `dummyWorkerCommand('mllm-worker')`, items composeItems / captionItems
 *   diffusion.edit               worker `dummyWorkerCommand('diffusion-worker')`, items editItems
 *   embed.text / embed.image     in-process dummyEmbedTextRunner / dummyEmbedImageRunner
 */
export { DUMMY_DIFFUSION_DEFAULTS, type DummyDiffusionParams } from './diffusion.js';
export { dummyEmbedImageRunner, dummyEmbedTextRunner } from './embed.js';
export { DUMMY_EMBED_DIM } from './features.js';
export {
  DUMMY_DIFFUSION_IDENTITY,
  DUMMY_EMBED_IDENTITY,
  DUMMY_IMPL_VERSION,
  DUMMY_MLLM_IDENTITY,
  DUMMY_MODEL_RECORD,
} from './identity.js';
export {
  captionItems,
  composeItems,
  editItems,
  type ItemsBuilder,
  itemSeed,
  type WorkerItem,
} from './items.js';
export { DUMMY_MLLM_DEFAULTS, type DummyMllmParams } from './mllm.js';
export { type DummyWorkerName, dummyWorkerCommand, dummyWorkerScript } from './workers.js';
