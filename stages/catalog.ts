/**
 * The stage catalog: one definition per stage kind, and the pipeline object the CLI hands to the
 * planner. This is the only place that knows which runner serves which kind and backend.
 */
import type { Pipeline, StageDefinition, StageKind } from '../runner/plan/stage.js';
import { resolveFacts } from './fingerprints.js';
import { chainFor, datasetLabel, type PointFacts } from './pipeline.js';

const DEFINITIONS: StageDefinition[] = [
  { kind: 'dataset', implVersion: 1, description: 'load annotations, check images', resource: 'cpu' },
  {
    kind: 'mllm.compose',
    implVersion: 1,
    description: 'MLLM: reference image + text → target description',
    resource: 'gpu',
  },
  { kind: 'mllm.caption', implVersion: 1, description: 'MLLM: gallery image → caption', resource: 'gpu' },
  {
    kind: 'diffusion.edit',
    implVersion: 1,
    description: 'diffusion: reference image + text → target image',
    resource: 'gpu',
  },
  {
    kind: 'embed.text',
    implVersion: 1,
    description: 'retrieval model: text → L2-normalised vector',
    resource: 'cpu',
  },
  {
    kind: 'embed.image',
    implVersion: 1,
    description: 'retrieval model: image → L2-normalised vector',
    resource: 'cpu',
  },
  { kind: 'score', implVersion: 1, description: 'cosine top-K with dataset rules', resource: 'cpu' },
  { kind: 'metrics', implVersion: 1, description: 'official metrics', resource: 'none' },
];

export function definitions(): ReadonlyMap<StageKind, StageDefinition> {
  return new Map(DEFINITIONS.map((d) => [d.kind, d]));
}

export function createPipeline(): Pipeline<PointFacts> {
  return {
    definitions: definitions(),
    facts: resolveFacts,
    chain: chainFor,
    datasetLabel,
  };
}
