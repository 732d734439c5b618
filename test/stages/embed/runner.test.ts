import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { ItemRecord } from '../../../runner/store/types.js';
import { parseNpy } from '../../../runner/util/npy.js';
import { releaseSessions } from '../../../stages/embed/model/session.js';
import { embedImageRunner, embedTextRunner } from '../../../stages/embed/runner.js';
import { needShared, tempDir } from '../../helpers/cli.js';
import { MemoryItems, MemoryStore, makeCtx, manifest } from './fakes.js';
import { CLIP_VOCAB, CLIP_VOCAB_FILE, makeModelDir, siglipDir } from './models.js';

afterAll(async () => {
  await releaseSessions();
});

process.env.PEFUSE_HASH_CACHE = join(tempDir('pefuse-hashes-'), 'file-hashes.json');

const texts = ['a cat', 'A RED DOG', 'a dog', 'red cat', 'a red cat'];
const textItems = (ids = ['q0', 'q1', 'q2', 'q3', 'q4']): ItemRecord[] =>
  texts.map((text, i) => ({ id: ids[i]!, output: { text }, seconds: 0 }));

async function matrixOf(store: MemoryStore, output: unknown) {
  const o = output as { matrix: { sha256: string; size: number }; ids: unknown; n: number; dim: number };
  const bytes = await store.read(o.matrix);
  if (!bytes.ok) throw new Error('matrix missing');
  const arr = parseNpy(bytes.value);
  if (!arr.ok) throw new Error(arr.error);
  return { arr: arr.value, ids: (await store.json(o.ids as never)) as string[], n: o.n, dim: o.dim };
}

function norms(data: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length / dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[i * dim + j]! ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

describe('embed.text on a SigLIP2-profile folder (tiny towers, Gemma-style tokenizer)', () => {
  const dir = siglipDir(8);

  it('embeds every text into one L2-normalised row, in input order, same result for any batch size', async () => {
    const results = [];
    for (const batch_size of [2, 5]) {
      const store = new MemoryStore();
      const f = makeCtx({
        kind: 'embed.text',
        params: { model: dir, batch_size },
        inputs: { texts: manifest(textItems()) },
        store,
        items: new MemoryItems(),
      });
      const r = await embedTextRunner(f.ctx);
      if (!r.ok) throw new Error(r.error.message);
      expect(r.value.device).toBe('cpu');
      const m = await matrixOf(store, r.value.output);
      expect(m.arr.shape).toEqual([5, 8]);
      expect(m.ids).toEqual(['q0', 'q1', 'q2', 'q3', 'q4']);
      for (const n of norms(m.arr.data as Float32Array, 8)) expect(n).toBeCloseTo(1, 5);
      expect(f.done.map((d) => d.id)).toEqual(['q0', 'q1', 'q2', 'q3', 'q4']);
      expect(f.failed).toEqual([]);
      results.push(Array.from(m.arr.data as Float32Array));
    }
    expect(results[0]).toEqual(results[1]);
  });

  it('feeds the tower the lower-cased, EOS-terminated, 64-long pad-0 rows (checked against a direct ORT run)', async () => {
    const store = new MemoryStore();
    const f = makeCtx({
      kind: 'embed.text',
      params: { model: dir },
      inputs: { texts: manifest([{ id: 'x', output: { text: 'A RED DOG' }, seconds: 0 }]) },
      store,
      items: new MemoryItems(),
    });
    const r = await embedTextRunner(f.ctx);
    if (!r.ok) throw new Error(r.error.message);
    const m = await matrixOf(store, r.value.output);
    // 'a red dog' → a, ▁red, ▁dog, then <eos>=1, then <pad>=0 up to 64.
    const row = [261n, 296n, 293n, 1n, ...new Array(60).fill(0n)];
    const s = await ort.InferenceSession.create(join(dir, 'text_model.onnx'));
    const out = await s.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(row), [1, 64]) });
    const raw = out.text_embeds!.data as Float32Array;
    const n = Math.hypot(...raw);
    expect(Array.from(m.arr.data as Float32Array).map((x) => x.toFixed(5))).toEqual(
      Array.from(raw).map((x) => (x / n).toFixed(5)),
    );
  });

  it('serves repeated content from the per-item cache, whatever the item ids, and counts truncated texts', async () => {
    const store = new MemoryStore();
    const items = new MemoryItems();
    const long = 'a red dog '.repeat(30);
    const recs = [...textItems(), { id: 'long', output: { text: long }, seconds: 0 }];
    const first = makeCtx({
      kind: 'embed.text',
      params: { model: dir },
      inputs: { texts: manifest(recs) },
      store,
      items,
    });
    const r1 = await embedTextRunner(first.ctx);
    if (!r1.ok) throw new Error(r1.error.message);
    expect((r1.value.output as { truncated: number }).truncated).toBe(1);
    expect(first.done.every((d) => d.cached === undefined)).toBe(true);
    expect(first.logs).toContain(
      'embedded 6 texts with siglip2-base-patch16-224 (0 from cache); 1 longer than 64 tokens were truncated',
    );

    const renamed = recs.map((r, i) => ({ ...r, id: `other-${i}` }));
    const second = makeCtx({
      kind: 'embed.text',
      params: { model: dir },
      inputs: { texts: manifest(renamed) },
      store,
      items,
    });
    const r2 = await embedTextRunner(second.ctx);
    if (!r2.ok) throw new Error(r2.error.message);
    expect(second.done.map((d) => d.cached)).toEqual([true, true, true, true, true, true]);
    expect((r2.value.output as { truncated: number }).truncated).toBe(1);
    const a = await matrixOf(store, r1.value.output);
    const b = await matrixOf(store, r2.value.output);
    expect(Array.from(b.arr.data as Float32Array)).toEqual(Array.from(a.arr.data as Float32Array));
  });

  it('skips items journaled by an interrupted attempt and fails only the malformed item', async () => {
    const store = new MemoryStore();
    const items = new MemoryItems();
    const first = makeCtx({
      kind: 'embed.text',
      params: { model: dir },
      inputs: { texts: manifest(textItems()) },
      store,
      items,
    });
    expect((await embedTextRunner(first.ctx)).ok).toBe(true);
    const recs: ItemRecord[] = [
      ...textItems(),
      { id: 'broken', output: { caption: 'no text field' }, seconds: 0 },
    ];
    const resumed = makeCtx({
      kind: 'embed.text',
      params: { model: dir },
      inputs: { texts: manifest(recs) },
      store,
      items: new MemoryItems(),
      resume: first.done.slice(0, 3),
    });
    const r = await embedTextRunner(resumed.ctx);
    if (!r.ok) throw new Error(r.error.message);
    expect(resumed.done.map((d) => d.id)).toEqual(['q3', 'q4']);
    expect(resumed.failed).toEqual([
      {
        item: 'broken',
        failure: {
          reason: 'bad-input',
          message: 'text item broken has no "text" string',
          item: 'broken',
          retryable: false,
        },
      },
    ]);
    expect((r.value.output as { n: number }).n).toBe(5);
  });

  it('reads run-only settings (model_dir, batch_size) from node.settings before params', async () => {
    const f = makeCtx({
      kind: 'embed.text',
      params: { model: 'siglip2-base-patch16-224', model_dir: '/wrong/folder' },
      settings: { model_dir: dir, batch_size: 3 },
      inputs: { texts: manifest(textItems()) },
      store: new MemoryStore(),
      items: new MemoryItems(),
    });
    const r = await embedTextRunner(f.ctx);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.output).toMatchObject({ n: 5, dim: 8 });
  });

  it('CUDA requested: runs on CUDA where its provider loads (a GPU host), else falls back to CPU with a log line', async () => {
    const f = makeCtx({
      kind: 'embed.text',
      params: { model: 'siglip2-base-patch16-224', model_dir: dir, device: 'cuda' },
      inputs: { texts: manifest(textItems()) },
      store: new MemoryStore(),
      items: new MemoryItems(),
      gpu: '0',
    });
    const r = await embedTextRunner(f.ctx);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.output).toMatchObject({ n: 5, dim: 8 });
    // Which path ran depends on the host (CUDA libraries and a visible GPU); each must say so.
    if (r.value.device === 'cuda:0')
      expect(f.logs.some((l) => /^text tower on CUDA \(deviceId 0, CUDA_VISIBLE_DEVICES=.+\)$/.test(l))).toBe(
        true,
      );
    else {
      expect(r.value.device).toBe('cpu');
      expect(
        f.logs.some((l) =>
          /^CUDA execution provider could not load \(.+\); falling back to CPU for the text tower — expect a much slower run$/.test(
            l,
          ),
        ),
      ).toBe(true);
    }
  });
});

const VOCAB = needShared(CLIP_VOCAB_FILE);
describe.skipIf(VOCAB.skip)(
  VOCAB.title('embed.text on a CLIP-profile folder (vocabulary from ../shared)'),
  () => {
    it('tokenizes with the CLIP BPE and embeds with the 77-long tower', async () => {
      expect(existsSync(CLIP_VOCAB)).toBe(true);
      const dir = makeModelDir({
        json: { embed_dim: 16 },
        text: { context: 77, dim: 16 },
        tokenizer: 'clip',
      });
      const store = new MemoryStore();
      const f = makeCtx({
        kind: 'embed.text',
        params: { model: 'clip-vit-b-32', model_dir: dir },
        inputs: { texts: manifest(textItems()) },
        store,
        items: new MemoryItems(),
      });
      const r = await embedTextRunner(f.ctx);
      if (!r.ok) throw new Error(r.error.message);
      expect(r.value.output).toMatchObject({ n: 5, dim: 16, truncated: 0 });
    });
  },
);

async function png(color: [number, number, number], w = 120, h = 90): Promise<Buffer> {
  return sharp({
    create: { width: w, height: h, channels: 3, background: { r: color[0], g: color[1], b: color[2] } },
  })
    .png()
    .toBuffer();
}

describe('embed.image (tiny vision tower)', () => {
  const dir = siglipDir(8);

  it('embeds generated PNG objects, batched and normalised, then serves them from the cache', async () => {
    const store = new MemoryStore();
    const items = new MemoryItems();
    const recs: ItemRecord[] = [];
    for (const [i, c] of (
      [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
      ] as const
    ).entries()) {
      recs.push({ id: `q${i}`, output: { image: { ...(await store.put(await png([...c]))) } }, seconds: 0 });
    }
    const f = makeCtx({
      kind: 'embed.image',
      params: { model: dir, batch_size: 2 },
      inputs: { images: manifest(recs) },
      store,
      items,
    });
    const r = await embedImageRunner(f.ctx);
    if (!r.ok) throw new Error(r.error.message);
    const m = await matrixOf(store, r.value.output);
    expect(m.arr.shape).toEqual([3, 8]);
    expect(m.ids).toEqual(['q0', 'q1', 'q2']);
    for (const n of norms(m.arr.data as Float32Array, 8)) expect(n).toBeCloseTo(1, 5);

    const again = makeCtx({
      kind: 'embed.image',
      params: { model: dir },
      inputs: { images: manifest(recs) },
      store,
      items,
    });
    const r2 = await embedImageRunner(again.ctx);
    if (!r2.ok) throw new Error(r2.error.message);
    expect(again.done.map((d) => d.cached)).toEqual([true, true, true]);
    expect(again.logs).toContain('embedded 3 of 3 images with siglip2-base-patch16-224 (3 from cache)');
  });

  it('reads a dataset gallery from disk; a missing or corrupt file is an item failure naming the file', async () => {
    const imgDir = tempDir('pefuse-gallery-');
    writeFileSync(join(imgDir, 'a.png'), await png([10, 200, 30]));
    writeFileSync(
      join(imgDir, 'b.jpg'),
      await sharp(await png([200, 10, 30]))
        .jpeg()
        .toBuffer(),
    );
    writeFileSync(join(imgDir, 'corrupt.jpg'), Buffer.from('this is not a jpeg'));
    const store = new MemoryStore();
    const gallery = await store.put(
      JSON.stringify([
        { id: 'a', path: join(imgDir, 'a.png') },
        { id: 'gone', path: join(imgDir, 'gone.png') },
        { id: 'b', path: join(imgDir, 'b.jpg') },
        { id: 'bad', path: join(imgDir, 'corrupt.jpg') },
      ]),
    );
    const f = makeCtx({
      kind: 'embed.image',
      params: { model: dir },
      inputs: { gallery: manifest([], { gallery: { ...gallery } }) },
      store,
      items: new MemoryItems(),
    });
    const r = await embedImageRunner(f.ctx);
    if (!r.ok) throw new Error(r.error.message);
    const m = await matrixOf(store, r.value.output);
    expect(m.ids).toEqual(['a', 'b']);
    expect(f.failed.map((x) => [x.item, x.failure.reason])).toEqual([
      ['gone', 'input-missing'],
      ['bad', 'bad-input'],
    ]);
    expect(f.failed[0]!.failure.message).toBe(`image not found: ${join(imgDir, 'gone.png')}`);
    expect(f.failed[1]!.failure.message).toMatch(
      new RegExp(`^cannot decode image ${join(imgDir, 'corrupt.jpg')}: `),
    );
  });

  it('embeds GeneCIS-style crops when a gallery item carries a bbox', async () => {
    const imgDir = tempDir('pefuse-crop-');
    // Left half red, right half blue: a crop of the right half must embed like a blue image.
    const half = await sharp({
      create: { width: 64, height: 32, channels: 3, background: { r: 220, g: 10, b: 10 } },
    })
      .composite([{ input: await png([10, 10, 220], 32, 32), left: 32, top: 0 }])
      .png()
      .toBuffer();
    writeFileSync(join(imgDir, 'scene.png'), half);
    writeFileSync(join(imgDir, 'blue.png'), await png([10, 10, 220]));
    const store = new MemoryStore();
    const gallery = await store.put(
      JSON.stringify([
        { id: 'scene@40,8,16,16', path: join(imgDir, 'scene.png'), bbox: [40, 8, 16, 16] },
        { id: 'scene', path: join(imgDir, 'scene.png') },
        { id: 'blue', path: join(imgDir, 'blue.png') },
      ]),
    );
    const f = makeCtx({
      kind: 'embed.image',
      params: { model: dir },
      inputs: { gallery: manifest([], { gallery: { ...gallery } }) },
      store,
      items: new MemoryItems(),
    });
    const r = await embedImageRunner(f.ctx);
    if (!r.ok) throw new Error(r.error.message);
    const m = await matrixOf(store, r.value.output);
    expect(m.ids).toEqual(['scene@40,8,16,16', 'scene', 'blue']);
    const data = m.arr.data as Float32Array;
    const row = (i: number) => Array.from(data.subarray(i * m.dim, (i + 1) * m.dim));
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(cos(row(0), row(2))).toBeGreaterThan(cos(row(1), row(2)));
  });

  it('needs an images or gallery input', async () => {
    const f = makeCtx({
      kind: 'embed.image',
      params: { model: dir },
      inputs: {},
      store: new MemoryStore(),
      items: new MemoryItems(),
    });
    const r = await embedImageRunner(f.ctx);
    expect(r).toEqual({
      ok: false,
      error: {
        reason: 'input-missing',
        message: 'embed.image needs an upstream input named "images" or "gallery"',
        retryable: false,
      },
    });
  });
});
