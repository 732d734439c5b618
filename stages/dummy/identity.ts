/**
 * Identities of the dummy backends. Everything dummy says `dummy` (backend and model names), so plans,
 * DuckDB rows and reports can never pass dummy numbers off as a real model's.
 */
import type { WorkerIdentity } from '../../runner/contract/run.js';

/** Bumped when any dummy backend's outputs change for the same inputs (use as the stages' impl version). */
export const DUMMY_IMPL_VERSION = 1;

const versions = { 'pefuse-dummy': String(DUMMY_IMPL_VERSION) };

export const DUMMY_MLLM_IDENTITY: WorkerIdentity = {
  backend: 'dummy',
  model: 'dummy-mllm',
  versions,
  device: 'cpu',
};
export const DUMMY_DIFFUSION_IDENTITY: WorkerIdentity = {
  backend: 'dummy',
  model: 'dummy-diffusion',
  versions,
  device: 'cpu',
};
export const DUMMY_EMBED_IDENTITY: WorkerIdentity = {
  backend: 'dummy',
  model: 'dummy-embed',
  versions,
  device: 'cpu',
};

/** The `model` value a pipeline puts into a dummy stage's KeyRecord. */
export const DUMMY_MODEL_RECORD = {
  mllm: { backend: 'dummy', model: 'dummy-mllm', version: DUMMY_IMPL_VERSION },
  diffusion: { backend: 'dummy', model: 'dummy-diffusion', version: DUMMY_IMPL_VERSION },
  embed: { backend: 'dummy', model: 'dummy-embed', version: DUMMY_IMPL_VERSION },
} as const;
