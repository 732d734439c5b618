import { cpSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StageRunner } from '../../../runner/contract/run.js';
import { resolveModelRef } from '../../../stages/embed/model/config.js';
import { modelIdentity } from '../../../stages/embed/model/identity.js';
import { releaseSessions } from '../../../stages/embed/model/session.js';
import { embedImageRunner, embedTextRunner } from '../../../stages/embed/runner.js';
import { tempDir } from '../../helpers/cli.js';
import { MemoryItems, MemoryStore, makeCtx, manifest } from './fakes.js';
import { makeModelDir, siglipDir } from './models.js';

afterAll(async () => {
  await releaseSessions();
});

const hashCacheFile = join(tempDir('pefuse-hashes-'), 'file-hashes.json');
process.env.PEFUSE_HASH_CACHE = hashCacheFile;

async function loadError(runner: StageRunner, params: Record<string, string>): Promise<string> {
  const kind = runner === embedTextRunner ? 'embed.text' : 'embed.image';
  const f = makeCtx({
    kind,
    params,
    inputs: {
      texts: manifest([{ id: 'q', output: { text: 'a cat' }, seconds: 0 }]),
      images: manifest([]),
    },
    store: new MemoryStore(),
    items: new MemoryItems(),
  });
  const r = await runner(f.ctx);
  if (r.ok) throw new Error('expected a failure');
  expect(r.error.reason).toBe('model-load');
  return r.error.message;
}

describe('model references', () => {
  it('accepts a profile name with model_dir, or a folder path', () => {
    expect(resolveModelRef({ model: 'openclip-vit-l-14', model_dir: '/m/l14' })).toEqual({
      ok: true,
      value: { dir: '/m/l14', profile: 'openclip-vit-l-14' },
    });
    expect(resolveModelRef({ model: 'models/mine' }, '/work')).toEqual({
      ok: true,
      value: { dir: '/work/models/mine', profile: null },
    });
    expect(resolveModelRef({ model: 'openclip-vit-l-14' })).toEqual({
      ok: false,
      error:
        'model "openclip-vit-l-14" is a built-in profile: set model_dir to the folder holding its exported ONNX towers (see stages/embed/export_onnx.py)',
    });
  });
});

describe('bad model folders fail at load with a message naming the file and field', () => {
  it('missing folder', async () => {
    expect(await loadError(embedTextRunner, { model: '/nonexistent/model' })).toBe(
      'model folder not found: /nonexistent/model',
    );
  });

  it('no pefuse-model.json and no profile', async () => {
    const dir = makeModelDir({ text: { context: 64, dim: 8 } });
    expect(await loadError(embedTextRunner, { model: dir })).toBe(
      `${dir} has no pefuse-model.json and no built-in profile was named: write pefuse-model.json (see the README) or set model to one of clip-vit-b-32, openclip-vit-b-32, openclip-vit-l-14, openclip-vit-h-14, openclip-vit-g-14, openclip-vit-bigg-14, siglip2-base-patch16-224`,
    );
  });

  it('unknown field, bad value, missing field', async () => {
    const a = makeModelDir({ json: { profile: 'siglip2-base-patch16-224', imagesize: 256 } });
    expect(await loadError(embedTextRunner, { model: a })).toMatch(
      new RegExp(
        `^${join(a, 'pefuse-model.json')}: unknown field "imagesize" \\(known: checkpoint, family, image_size,`,
      ),
    );
    const b = makeModelDir({ json: { profile: 'siglip2-base-patch16-224', interpolation: 'lanczos' } });
    expect(await loadError(embedTextRunner, { model: b })).toBe(
      `${join(b, 'pefuse-model.json')}: field "interpolation" must be one of "bicubic", "bilinear"`,
    );
    const c = makeModelDir({ json: { family: 'clip' } });
    expect(await loadError(embedTextRunner, { model: c })).toBe(
      `${join(c, 'pefuse-model.json')}: missing field "resize"`,
    );
  });

  it('missing tower and missing tokenizer', async () => {
    const noTower = makeModelDir({ json: { profile: 'siglip2-base-patch16-224' }, tokenizer: 'gemma' });
    expect(await loadError(embedTextRunner, { model: noTower })).toBe(
      `text tower not found: ${join(noTower, 'text_model.onnx')}`,
    );
    const noTok = makeModelDir({
      json: { profile: 'clip-vit-b-32', embed_dim: 8 },
      text: { context: 77, dim: 8 },
    });
    expect(await loadError(embedTextRunner, { model: noTok })).toBe(
      `cannot read CLIP vocabulary ${join(noTok, 'bpe_simple_vocab_16e6.txt.gz')}: ENOENT. The CLIP vocabulary is not shipped with pefuse: copy bpe_simple_vocab_16e6.txt.gz from openai/CLIP or open_clip into the model folder (stages/embed/export_onnx.py does this)`,
    );
  });

  it('tower signatures that do not match the config', async () => {
    const json = { profile: 'siglip2-base-patch16-224', embed_dim: 8 };
    const name = makeModelDir({ json, text: { context: 64, dim: 8, inputName: 'ids' }, tokenizer: 'gemma' });
    expect(await loadError(embedTextRunner, { model: name })).toBe(
      `text tower ${join(name, 'text_model.onnx')}: no input named "input_ids" (inputs: ids)`,
    );
    const ctx = makeModelDir({ json, text: { context: 77, dim: 8 }, tokenizer: 'gemma' });
    expect(await loadError(embedTextRunner, { model: ctx })).toBe(
      `text tower ${join(ctx, 'text_model.onnx')}: input "input_ids" has length 77, but the model config says context_length 64`,
    );
    const extra = makeModelDir({
      json,
      text: { context: 64, dim: 8, extraInput: 'token_type_ids' },
      tokenizer: 'gemma',
    });
    expect(await loadError(embedTextRunner, { model: extra })).toBe(
      `text tower ${join(extra, 'text_model.onnx')}: unexpected extra input "token_type_ids" (expected only "input_ids")`,
    );
    const size = makeModelDir({ json, vision: { size: 256, dim: 8 } });
    expect(await loadError(embedImageRunner, { model: size })).toBe(
      `vision tower ${join(size, 'vision_model.onnx')}: input "pixel_values" is [batch, 3, 256, 256], but the model config says [batch, 3, 224, 224]`,
    );
    const dim = makeModelDir({
      json: { profile: 'siglip2-base-patch16-224' },
      vision: { size: 224, dim: 8 },
    });
    expect(await loadError(embedImageRunner, { model: dim })).toBe(
      `vision tower ${join(dim, 'vision_model.onnx')}: output "image_embeds" has width 8, but the model config says embed_dim 768`,
    );
    const out = makeModelDir({ json, vision: { size: 224, dim: 8, outputName: 'pooler_output' } });
    expect(await loadError(embedImageRunner, { model: out })).toBe(
      `vision tower ${join(out, 'vision_model.onnx')}: no output named "image_embeds" (outputs: pooler_output)`,
    );
    const garbage = makeModelDir({ json });
    writeFileSync(join(garbage, 'vision_model.onnx'), 'not a model');
    expect(await loadError(embedImageRunner, { model: garbage })).toMatch(
      new RegExp(`^cannot load vision tower ${join(garbage, 'vision_model.onnx')}: `),
    );
  });
});

describe('model identity', () => {
  it('is the hash of the files and the config, not the folder name', async () => {
    const a = siglipDir(8);
    const b = join(tempDir('pefuse-copy-'), 'renamed');
    cpSync(a, b, { recursive: true });
    const ia = await modelIdentity(a);
    const ib = await modelIdentity(b);
    if (!ia.ok || !ib.ok) throw new Error('identity failed');
    expect(ib.value).toEqual(ia.value);
    expect(Object.keys((ia.value as { files: object }).files)).toEqual([
      'pefuse-model.json',
      'text_model.onnx',
      'tokenizer.json',
      'vision_model.onnx',
    ]);
    // A profile applied to a bare folder gives the same config as naming it in pefuse-model.json.
    rmSync(join(b, 'pefuse-model.json'));
    const ic = await modelIdentity(b, { profile: 'siglip2-base-patch16-224' });
    if (!ic.ok) throw new Error(ic.error);
    expect((ic.value as { config: { embed_dim: number } }).config.embed_dim).toBe(768);
    writeFileSync(join(b, 'vision_model.onnx_data'), 'external weights');
    const id = await modelIdentity(b, { profile: 'siglip2-base-patch16-224' });
    if (!id.ok) throw new Error(id.error);
    expect(Object.keys((id.value as { files: object }).files)).toContain('vision_model.onnx_data');
  });

  it('reuses cached hashes while path, size and mtime are unchanged', async () => {
    const dir = siglipDir(8);
    const tower = join(dir, 'text_model.onnx');
    const when = new Date('2026-01-02T03:04:05Z');
    utimesSync(tower, when, when);
    const first = await modelIdentity(dir);
    if (!first.ok) throw new Error(first.error);
    const cache = JSON.parse(readFileSync(hashCacheFile, 'utf8')) as {
      entries: Record<string, { sha256: string }>;
    };
    expect(cache.entries[tower]!.sha256).toBe(
      (first.value as { files: Record<string, string> }).files['text_model.onnx'],
    );
    // Same size and mtime, different bytes: the cached hash is trusted (no re-hash)…
    const bytes = readFileSync(tower);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(tower, bytes);
    utimesSync(tower, when, when);
    const same = await modelIdentity(dir);
    if (!same.ok) throw new Error(same.error);
    expect(same.value).toEqual(first.value);
    // …and a new mtime makes it re-hash.
    utimesSync(tower, when, new Date('2026-01-02T03:04:06Z'));
    const changed = await modelIdentity(dir);
    if (!changed.ok) throw new Error(changed.error);
    expect(changed.value).not.toEqual(first.value);
  });
});
