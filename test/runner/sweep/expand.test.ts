/** Sweep normalisation: every generator, exclude, dedup and typed values, through the real compiler. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePoints } from '../../../runner/frontend.js';
import { datasetLabel } from '../../../stages/pipeline.js';
import { tempDir } from '../../helpers/cli.js';

const HEAD = `experiment: s
datasets: [{ name: synthetic }]
mode: t2i
mllm: { backend: dummy, model: m }
diffusion: { backend: dummy, pipeline: dummy }
retrieval: { backend: dummy, model: d }
`;

function points(body: string, overrides: string[] = []) {
  const dir = tempDir();
  writeFileSync(join(dir, 's.yaml'), HEAD + body);
  const { points: drafts, diagnostics } = compilePoints('s.yaml', {
    cwd: dir,
    env: {},
    overrides,
    datasetLabel,
  });
  expect(diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return drafts.map((p) => {
    const { dataset: _d, ...rest } = p.params;
    return rest;
  });
}

describe('sweeps', () => {
  it('no sweep: one point', () => {
    expect(points('')).toEqual([{}]);
  });
  it('grid: Cartesian product, first axis outermost', () => {
    expect(points('sweep: { grid: { mllm.temperature: [0.1, 0.5], mllm.top_k: [1, 2] } }\n')).toEqual([
      { 'mllm.temperature': 0.1, 'mllm.top_k': 1 },
      { 'mllm.temperature': 0.1, 'mllm.top_k': 2 },
      { 'mllm.temperature': 0.5, 'mllm.top_k': 1 },
      { 'mllm.temperature': 0.5, 'mllm.top_k': 2 },
    ]);
  });
  it('zip: paired values', () => {
    expect(points('sweep: { zip: { retrieval.model: [a, b], retrieval.model_dir: [x, y] } }\n')).toEqual([
      { 'retrieval.model': 'a', 'retrieval.model_dir': 'x' },
      { 'retrieval.model': 'b', 'retrieval.model_dir': 'y' },
    ]);
  });
  it('points, union (one-at-a-time), product and exclude', () => {
    const body = `sweep:
  product:
    - grid: { mode: [t2i, i2i] }
    - union:
        - grid: { mllm.temperature: [0.1, 0.9] }
        - points: [{ diffusion.steps: 10 }, { diffusion.steps: 50 }]
  exclude:
    - { mode: i2i, mllm.temperature: 0.9 }
`;
    expect(points(body)).toEqual([
      { mode: 't2i', 'mllm.temperature': 0.1 },
      { mode: 't2i', 'mllm.temperature': 0.9 },
      { mode: 't2i', 'diffusion.steps': 10 },
      { mode: 't2i', 'diffusion.steps': 50 },
      { mode: 'i2i', 'mllm.temperature': 0.1 },
      { mode: 'i2i', 'diffusion.steps': 10 },
      { mode: 'i2i', 'diffusion.steps': 50 },
    ]);
  });
  it('keeps types (1 vs "1") and drops duplicate points (1 and 1.0 are equal)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 's.yaml'), `${HEAD}sweep: { grid: { mllm.top_k: [1, "1"] } }\n`);
    const { diagnostics } = compilePoints('s.yaml', { cwd: dir, env: {}, overrides: [], datasetLabel });
    expect(diagnostics.map((d) => d.message)).toEqual(['`mllm.top_k` must be an integer (got "1")']);
    expect(points('sweep: { grid: { mllm.top_k: [1, 1.0, 2] } }\n')).toEqual([
      { 'mllm.top_k': 1 },
      { 'mllm.top_k': 2 },
    ]);
  });
  it('repeats are a real axis: repeat index and seed', () => {
    expect(points('repeats: 2\nseed: 10\nsweep: { grid: { mllm.temperature: [0.5] } }\n')).toEqual([
      { 'mllm.temperature': 0.5, repeat: 0, seed: 10 },
      { 'mllm.temperature': 0.5, repeat: 1, seed: 11 },
    ]);
    expect(points('repeats: { seeds: [7, 3] }\n')).toEqual([
      { repeat: 0, seed: 7 },
      { repeat: 1, seed: 3 },
    ]);
  });
  it('--set overrides a base value (typed like YAML)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 's.yaml'), HEAD);
    const { points: drafts } = compilePoints('s.yaml', {
      cwd: dir,
      env: {},
      overrides: ['mllm.temperature=0.7', 'score.k=10'],
      datasetLabel,
    });
    expect(drafts[0]!.config.mllm?.temperature).toBe(0.7);
    expect(drafts[0]!.config.score?.k).toBe(10);
  });
});
