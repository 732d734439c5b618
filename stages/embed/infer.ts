/**
 * One `session.run` per batch: builds the input tensors (ids as int64/int32, an attention mask when
 * the export has one; CHW float32 pixels) and splits the output into per-item rows.
 */
import { type Failure, failure } from '../../runner/contract/failure.js';
import { err, ok, type Result } from '../../runner/util/result.js';
import type { TowerSession } from './model/session.js';
import type { TextTokenizer, TokenizedText } from './tokenizer/index.js';

async function run(
  tower: TowerSession,
  feeds: Record<string, import('onnxruntime-node').Tensor>,
  batch: number,
): Promise<Result<Float32Array[], Failure>> {
  let result: Awaited<ReturnType<TowerSession['session']['run']>>;
  try {
    result = await tower.session.run(feeds);
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    const oom = /out of memory|bad_alloc|Failed to allocate/i.test(msg);
    return err(
      failure(oom ? 'oom' : 'bad-output', `${tower.tower} tower failed on a batch of ${batch}: ${msg}`),
    );
  }
  const out = result[tower.outputName];
  if (out?.type !== 'float32' || out.dims.length !== 2 || out.dims[0] !== batch) {
    return err(
      failure(
        'bad-output',
        `${tower.tower} tower returned ${out ? `${out.type} [${out.dims.join(', ')}]` : 'nothing'} for "${tower.outputName}", expected float32 [${batch}, dim]`,
      ),
    );
  }
  const dim = out.dims[1]!;
  const data = out.data as Float32Array;
  const rows: Float32Array[] = [];
  for (let i = 0; i < batch; i++) rows.push(data.slice(i * dim, (i + 1) * dim));
  return ok(rows);
}

export async function runTextBatch(
  tower: TowerSession,
  rows: readonly TokenizedText[],
  tok: TextTokenizer,
): Promise<Result<Float32Array[], Failure>> {
  const { Tensor } = await import('onnxruntime-node');
  const L = tok.contextLength;
  const B = rows.length;
  const ids = tower.idType === 'int64' ? new BigInt64Array(B * L) : new Int32Array(B * L);
  for (const [i, r] of rows.entries()) {
    for (let j = 0; j < L; j++) {
      const v = r.context[j]!;
      if (ids instanceof BigInt64Array) ids[i * L + j] = BigInt(v);
      else ids[i * L + j] = v;
    }
  }
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {
    [tower.inputName]: new Tensor(tower.idType, ids, [B, L]),
  };
  if (tower.maskName) {
    const mask = tower.idType === 'int64' ? new BigInt64Array(B * L) : new Int32Array(B * L);
    for (const [i, r] of rows.entries()) {
      const used = tok.used(r);
      for (let j = 0; j < used; j++) {
        if (mask instanceof BigInt64Array) mask[i * L + j] = 1n;
        else mask[i * L + j] = 1;
      }
    }
    feeds[tower.maskName] = new Tensor(tower.idType, mask, [B, L]);
  }
  return run(tower, feeds, B);
}

export async function runImageBatch(
  tower: TowerSession,
  pixels: Float32Array,
  batch: number,
  size: number,
): Promise<Result<Float32Array[], Failure>> {
  const { Tensor } = await import('onnxruntime-node');
  return run(tower, { [tower.inputName]: new Tensor('float32', pixels, [batch, 3, size, size]) }, batch);
}
