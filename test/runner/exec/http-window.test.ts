/**
 * HTTP stages: one request window per endpoint, found where the pipeline keeps it (the node's
 * settings), sized by the node's `concurrency`; MLLM stages over a server take no GPU.
 */
import { describe, expect, it } from 'vitest';
import type { StageNodeSpec } from '../../../runner/contract/stage.js';
import { ResourceManager } from '../../../runner/exec/resources.js';
import { httpEndpoint, resourceRequest } from '../../../runner/exec/scheduler.js';
import type { PlannedStage } from '../../../runner/plan/types.js';
import { definitions } from '../../../stages/catalog.js';

function stage(settings: Record<string, string | number>, backend = 'vllm'): PlannedStage {
  const node: StageNodeSpec = {
    kind: 'mllm.compose',
    role: 'query-text',
    params: {},
    model: { backend, model: 'm' },
    data: null,
    inputs: {},
    items: 100,
    backend: `${backend}:m`,
    settings: { backend, model: 'm', ...settings },
  };
  return {
    key: 'k',
    record: {
      scheme: 1,
      kind: 'mllm.compose',
      impl_version: 1,
      params: {},
      model: node.model,
      inputs: {},
      data: null,
    },
    node,
    definition: definitions().get('mllm.compose')!,
    points: [0],
    upstream: [],
    status: 'run',
    reason: 'new',
    slot: 's',
  } as unknown as PlannedStage;
}

describe('HTTP request windows', () => {
  it('the endpoint comes from the node settings; dummy and raw MLLM stages are CPU work, servers take no GPU', () => {
    expect(httpEndpoint(stage({ endpoint: 'http://a:8000/v1' }))).toBe('http://a:8000/v1');
    expect(resourceRequest(stage({ endpoint: 'http://a:8000/v1' }), 0, 10).resource).toBe('http');
    expect(resourceRequest(stage({}, 'dummy'), 0, 10).resource).toBe('cpu');
    expect(resourceRequest(stage({}, 'raw'), 0, 10).resource).toBe('cpu');
    expect(httpEndpoint(stage({}, 'dummy'))).toBeNull();
  });

  it('two servers get a window each, sized by the node concurrency', async () => {
    const rm = new ResourceManager({ gpus: ['0'], cpuSlots: 1, httpWindow: 8 });
    const signal = new AbortController().signal;
    const a = await rm.acquire(
      resourceRequest(stage({ endpoint: 'http://a/v1', concurrency: 64 }), 0, 100),
      signal,
    );
    const b = await rm.acquire(resourceRequest(stage({ endpoint: 'http://b/v1' }), 1, 100), signal);
    expect([a?.http, a?.threads]).toEqual(['http://a/v1', 64]);
    expect([b?.http, b?.threads]).toEqual(['http://b/v1', 8]);
    expect(a?.gpus).toEqual([]);
  });
});
