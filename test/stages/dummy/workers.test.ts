import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FromWorker } from '../../../runner/exec/protocol.js';
import { generateSynthetic, SYNTHETIC_DEFAULTS } from '../../../stages/datasets/synthetic/generate.js';
import { analyseImage } from '../../../stages/dummy/vision.js';
import { dummyWorkerScript } from '../../../stages/dummy/workers.js';
import { tempDir } from '../../helpers/cli.js';
import { driveWorker } from './harness.js';

const MLLM = dummyWorkerScript('mllm-worker');
const DIFFUSION = dummyWorkerScript('diffusion-worker');
const REF = 'a small red circle on a light background';

const results = (messages: FromWorker[]) =>
  messages.flatMap((m) => (m.type === 'result' ? [{ id: m.id, output: m.output }] : []));

describe('dummy MLLM worker (protocol)', () => {
  it('answers configure with a dummy identity and composes the target description', async () => {
    const run = await driveWorker(MLLM, 'mllm.compose', { temperature: 0 }, [
      { id: 'q1', input: { reference_caption: REF, text: 'change the circle to a blue star', seed: 1 } },
      { id: 'q2', input: { reference_caption: REF, text: 'same shape but red and larger', seed: 1 } },
      { id: 'q3', input: { reference_caption: REF, text: 'put it on a dark background' } },
    ]);
    expect(run.exitCode).toBe(0);
    expect(run.messages[0]).toEqual({
      type: 'ready',
      protocol: 1,
      identity: { backend: 'dummy', model: 'dummy-mllm', versions: { 'pefuse-dummy': '1' }, device: 'cpu' },
    });
    expect(results(run.messages)).toEqual([
      { id: 'q1', output: { text: 'a small blue star on a light background', tokens: 8 } },
      { id: 'q2', output: { text: 'a medium red circle on a light background', tokens: 8 } },
      { id: 'q3', output: { text: 'a small red circle on a dark background', tokens: 8 } },
    ]);
  });

  it('adds seeded noise with temperature: repeats differ, the same seed repeats itself', async () => {
    const items = [1, 2, 1].map((seed, i) => ({
      id: `c${i}`,
      input: { oracle_caption: 'a large green hexagon on a grey background', seed },
    }));
    const hot = results(
      (await driveWorker(MLLM, 'mllm.caption', { temperature: 3, top_p: 1 }, items)).messages,
    );
    expect(hot[0]!.output).toEqual(hot[2]!.output);
    expect(hot[0]!.output).not.toEqual(hot[1]!.output);
    const cold = results((await driveWorker(MLLM, 'mllm.caption', { temperature: 0 }, items)).messages);
    expect(cold.map((r) => (r.output as { text: string }).text)).toEqual(
      Array(3).fill('a large green hexagon on a grey background'),
    );
  });

  it('reports a bad item as an error and goes on', async () => {
    const run = await driveWorker(MLLM, 'mllm.caption', {}, [
      { id: 'bad', input: { seed: 1 } },
      { id: 'good', input: { oracle_caption: 'a red star' } },
    ]);
    expect(run.messages.slice(1)).toEqual([
      {
        type: 'error',
        id: 'bad',
        reason: 'bad-input',
        message: 'mllm.caption input needs a string "oracle_caption" (the dummy captioner reads it)',
      },
      expect.objectContaining({ type: 'result', id: 'good', output: { text: 'a red star', tokens: 3 } }),
    ]);
  });

  it('exits 2 with a message for a kind it cannot run or another protocol version', async () => {
    const wrongKind = await driveWorker(MLLM, 'diffusion.edit', {}, []);
    expect([wrongKind.exitCode, wrongKind.stderr.trim()]).toEqual([
      2,
      'dummy-mllm cannot run stage kind "diffusion.edit" (it runs mllm.compose and mllm.caption)',
    ]);
    const wrongProtocol = await driveWorker(MLLM, 'mllm.compose', {}, [], { protocol: 9 });
    expect([wrongProtocol.exitCode, wrongProtocol.stderr.trim()]).toEqual([
      2,
      'protocol error: this worker speaks protocol 1, got 9',
    ]);
  });
});

describe('dummy diffusion worker (protocol)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    await generateSynthetic(dir, { ...SYNTHETIC_DEFAULTS, n_gallery: 12, n_queries: 2 });
  });

  it('writes the edited PNG where asked and answers {image: {file}}', async () => {
    const ref = join(dir, 'images', 'g0000.png');
    const out = join(dir, 'out', 'q1.png');
    const run = await driveWorker(DIFFUSION, 'diffusion.edit', { guidance_scale: 7.5, steps: 30 }, [
      { id: 'q1', input: { reference_path: ref, text: 'make it pink', seed: 5, out_path: out } },
    ]);
    expect(run.messages[0]).toMatchObject({
      type: 'ready',
      identity: { backend: 'dummy', model: 'dummy-diffusion' },
    });
    expect(results(run.messages)).toEqual([{ id: 'q1', output: { image: { file: out } } }]);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width]).toEqual(['png', 128]);
    const before = await analyseImage(ref);
    const after = await analyseImage(out);
    expect(after.best).toEqual({ ...before.best, colour: 'pink' });
  });

  it('chooses a temp file when no out_path is given', async () => {
    const run = await driveWorker(DIFFUSION, 'diffusion.edit', {}, [
      { id: 'q/2', input: { reference_path: join(dir, 'images', 'g0001.png'), text: 'make it larger' } },
    ]);
    const file = (results(run.messages)[0]!.output as { image: { file: string } }).image.file;
    expect(file).toMatch(/pefuse-dummy-diffusion-\d+\/q_2\.png$/);
    expect(existsSync(file)).toBe(true);
  });

  it('reports a missing reference image as input-missing', async () => {
    const run = await driveWorker(DIFFUSION, 'diffusion.edit', {}, [
      { id: 'q1', input: { reference_path: '/nonexistent/ref.png', text: 'make it red' } },
    ]);
    expect(run.messages[1]).toEqual({
      type: 'error',
      id: 'q1',
      reason: 'input-missing',
      message: 'reference image not found: /nonexistent/ref.png',
    });
  });
});
