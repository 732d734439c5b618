/**
 * ONNX Runtime sessions for the towers. One session per tower file, device and thread count, reused
 * across stages of the same worker. On a GPU box the worker is pinned to one GPU by
 * CUDA_VISIBLE_DEVICES, so CUDA always uses `deviceId: 0`. onnxruntime-node does not fall back by
 * itself (`['cuda','cpu']` throws when the CUDA libraries are missing), so we catch that and reopen
 * on CPU with a log line: a silent CPU fallback would turn a 10-minute gallery into hours.
 * Inputs/outputs are checked against the model config at load.
 */
import { join } from 'node:path';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import { err, ok, type Result } from '../../../runner/util/result.js';
import type { EmbedModelConfig } from './config.js';

export type Tower = 'text' | 'vision';
export type DeviceRequest = 'cpu' | 'cuda';

export interface TowerSession {
  session: OrtSession;
  tower: Tower;
  /** `cuda:0` or `cpu`. */
  device: string;
  inputName: string;
  outputName: string;
  /** Text tower: the id dtype it takes. */
  idType: 'int64' | 'int32';
  /** Text tower: an `attention_mask` input to feed (some CLIP exports have one). */
  maskName: string | null;
  /** Embedding width, when the graph states it. */
  dim: number | null;
}

const sessions = new Map<string, Promise<Result<TowerSession, string>>>();

/** Opens (or reuses) a tower session; every problem is a message naming the file. */
export function openTower(
  dir: string,
  cfg: EmbedModelConfig,
  tower: Tower,
  opts: { device: DeviceRequest; threads: number; log: (line: string) => void },
): Promise<Result<TowerSession, string>> {
  const file = join(dir, tower === 'text' ? cfg.text_model : cfg.vision_model);
  const key = `${file}\0${opts.device}\0${opts.threads}\0${tower === 'text' ? cfg.context_length : cfg.image_size}`;
  let p = sessions.get(key);
  if (!p) {
    p = create(file, cfg, tower, opts);
    sessions.set(key, p);
    // A failed load is not cached: the user may fix the folder and retry in the same process.
    void p.then((r) => {
      if (!r.ok) sessions.delete(key);
    });
  }
  return p;
}

/** Releases every cached session (tests, and workers before exit). */
export async function releaseSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  for (const p of all) {
    const r = await p;
    if (r.ok) await r.value.session.release();
  }
}

async function create(
  file: string,
  cfg: EmbedModelConfig,
  tower: Tower,
  opts: { device: DeviceRequest; threads: number; log: (line: string) => void },
): Promise<Result<TowerSession, string>> {
  const { InferenceSession } = await import('onnxruntime-node');
  const { stat } = await import('node:fs/promises');
  try {
    await stat(file);
  } catch {
    return err(`${tower} tower not found: ${file}`);
  }
  const base: OrtSession.SessionOptions = {
    intraOpNumThreads: Math.max(1, opts.threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  let session: OrtSession;
  let device = 'cpu';
  try {
    if (opts.device === 'cuda') {
      try {
        session = await InferenceSession.create(file, {
          ...base,
          executionProviders: [{ name: 'cuda', deviceId: 0 }],
          // ORT would print its own multi-line error; the fallback line below says it once.
          logSeverityLevel: 4,
        });
        device = 'cuda:0';
        opts.log(
          `${tower} tower on CUDA (deviceId 0, CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES ?? '<unset>'})`,
        );
      } catch (e) {
        opts.log(
          `CUDA execution provider could not load (${firstLine(e)}); falling back to CPU for the ${tower} tower — expect a much slower run`,
        );
        session = await InferenceSession.create(file, { ...base, executionProviders: ['cpu'] });
      }
    } else {
      session = await InferenceSession.create(file, { ...base, executionProviders: ['cpu'] });
    }
  } catch (e) {
    return err(`cannot load ${tower} tower ${file}: ${firstLine(e)}`);
  }
  const checked = checkIo(file, session, cfg, tower);
  if (!checked.ok) {
    await session.release();
    return checked;
  }
  return ok({ session, tower, device, ...checked.value });
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

type IoInfo = Omit<TowerSession, 'session' | 'tower' | 'device'>;

/** Asserts the tower's signature matches the exported layout (names, dtypes, ranks, fixed dims). */
export function checkIo(
  file: string,
  session: OrtSession,
  cfg: EmbedModelConfig,
  tower: Tower,
): Result<IoInfo, string> {
  const inputName = tower === 'text' ? cfg.text_input : cfg.vision_input;
  const outputName = tower === 'text' ? cfg.text_output : cfg.vision_output;
  const meta = (list: readonly OrtSession.ValueMetadata[], name: string) => list.find((m) => m.name === name);
  const where = `${tower} tower ${file}`;
  const input = meta(session.inputMetadata, inputName);
  if (!input)
    return err(`${where}: no input named "${inputName}" (inputs: ${session.inputNames.join(', ')})`);
  const output = meta(session.outputMetadata, outputName);
  if (!output)
    return err(`${where}: no output named "${outputName}" (outputs: ${session.outputNames.join(', ')})`);
  if (!input.isTensor || !output.isTensor)
    return err(`${where}: "${inputName}" and "${outputName}" must be tensors`);
  let maskName: string | null = null;
  for (const name of session.inputNames) {
    if (name === inputName) continue;
    if (tower === 'text' && name === 'attention_mask') maskName = name;
    else return err(`${where}: unexpected extra input "${name}" (expected only "${inputName}")`);
  }
  const shape = input.shape;
  const fixed = (d: number | string | undefined, want: number) => typeof d !== 'number' || d === want;
  let idType: 'int64' | 'int32' = 'int64';
  if (tower === 'text') {
    if (input.type !== 'int64' && input.type !== 'int32')
      return err(`${where}: input "${inputName}" must be int64 (found ${input.type})`);
    idType = input.type;
    // An empty shape means the graph does not declare one: nothing to check.
    if (shape.length !== 0 && shape.length !== 2)
      return err(
        `${where}: input "${inputName}" must have rank 2 [batch, ${cfg.context_length}] (found [${shape.join(', ')}])`,
      );
    if (!fixed(shape[1], cfg.context_length))
      return err(
        `${where}: input "${inputName}" has length ${shape[1]}, but the model config says context_length ${cfg.context_length}`,
      );
  } else {
    if (input.type !== 'float32')
      return err(`${where}: input "${inputName}" must be float32 (found ${input.type})`);
    const s = cfg.image_size;
    if (shape.length !== 0 && shape.length !== 4)
      return err(
        `${where}: input "${inputName}" must have rank 4 [batch, 3, ${s}, ${s}] (found [${shape.join(', ')}])`,
      );
    if (!fixed(shape[1], 3) || !fixed(shape[2], s) || !fixed(shape[3], s)) {
      return err(
        `${where}: input "${inputName}" is [${shape.join(', ')}], but the model config says [batch, 3, ${s}, ${s}]`,
      );
    }
  }
  if (output.type !== 'float32')
    return err(`${where}: output "${outputName}" must be float32 (found ${output.type})`);
  if (output.shape.length !== 0 && output.shape.length !== 2)
    return err(
      `${where}: output "${outputName}" must have rank 2 [batch, dim] (found [${output.shape.join(', ')}])`,
    );
  const d = output.shape[1];
  const dim = typeof d === 'number' ? d : null;
  if (dim !== null && cfg.embed_dim !== null && dim !== cfg.embed_dim) {
    return err(
      `${where}: output "${outputName}" has width ${dim}, but the model config says embed_dim ${cfg.embed_dim}`,
    );
  }
  return ok({ inputName, outputName, idType, maskName, dim });
}
