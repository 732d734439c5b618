/**
 * Retrieval model folders. A model is a local folder:
 *
 *   <dir>/pefuse-model.json             optional when a built-in profile is named (fields override it)
 *   <dir>/text_model.onnx [+ data]      text tower:   input_ids int64 [B, S]      → text_embeds  [B, D]
 *   <dir>/vision_model.onnx [+ data]    vision tower: pixel_values f32 [B,3,H,W]  → image_embeds [B, D]
 *   <dir>/bpe_simple_vocab_16e6.txt.gz  CLIP / OpenCLIP vocabulary   (tokenizer "clip-bpe")
 *   <dir>/tokenizer.json                SigLIP2 Gemma tokenizer       (tokenizer "hf")
 *
 * `resolveModelConfig` merges the profile with the folder's JSON and validates every field, so a bad
 * folder fails at load with a message naming the file and field.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { isJsonObject, type JsonObject } from '../../../runner/util/json.js';
import { err, ok, type Result } from '../../../runner/util/result.js';
import { FOLDER_DEFAULTS, PROFILE_NAMES, PROFILES } from './profiles.js';

export const MODEL_JSON = 'pefuse-model.json';

/** Everything that determines how a model folder is used. All fields enter the model identity. */
export interface EmbedModelConfig {
  /** Built-in profile the defaults came from, or null for a fully described folder. */
  profile: string | null;
  /** Upstream checkpoint (informational). */
  checkpoint: string | null;
  family: 'clip' | 'openclip' | 'siglip2';
  image_size: number;
  /** `shortest`: short side → image_size, then center crop; `squash`: resize to image_size² (no crop). */
  resize: 'shortest' | 'squash';
  /** Center-crop offsets: `hf` = floor((H−S)/2); `torchvision` = Python round((H−S)/2) (half to even). */
  crop: 'hf' | 'torchvision';
  interpolation: 'bicubic' | 'bilinear';
  mean: [number, number, number];
  std: [number, number, number];
  /** Apply the EXIF orientation before resizing (the Python processors do not). */
  exif_transpose: boolean;
  context_length: number;
  tokenizer: 'clip-bpe' | 'hf';
  /** clip-bpe: which literal special-token names the text may contain. */
  special_tokens: 'openai' | 'openclip';
  /** hf: `lower` (HF Siglip2Tokenizer) or `canonicalize` (open_clip: also strips punctuation). */
  text_clean: 'lower' | 'canonicalize';
  eos_token: string;
  pad_id: number;
  /** Expected embedding width, checked at load (null: accept what the tower says). */
  embed_dim: number | null;
  text_model: string;
  vision_model: string;
  text_input: string;
  text_output: string;
  vision_input: string;
  vision_output: string;
  clip_vocab: string;
  hf_tokenizer: string;
}

/** A model reference as a stage's params give it. */
export interface ModelRef {
  dir: string;
  profile: string | null;
}

/**
 * Reads `params.model` (a built-in profile name or a folder path) and `params.model_dir` (the folder;
 * required with a profile name). Relative folders are resolved against `cwd`.
 */
export function resolveModelRef(
  params: { model?: unknown; model_dir?: unknown },
  cwd = process.cwd(),
): Result<ModelRef, string> {
  const { model, model_dir } = params;
  if (model !== undefined && typeof model !== 'string') return err('params.model must be a string');
  if (model_dir !== undefined && typeof model_dir !== 'string')
    return err('params.model_dir must be a string');
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  if (model !== undefined && model in PROFILES) {
    if (model_dir === undefined) {
      return err(
        `model "${model}" is a built-in profile: set model_dir to the folder holding its exported ONNX towers (see stages/embed/export_onnx.py)`,
      );
    }
    return ok({ dir: abs(model_dir), profile: model });
  }
  if (model !== undefined && model_dir !== undefined && abs(model) !== abs(model_dir)) {
    return err(
      `model "${model}" is neither a built-in profile (${PROFILE_NAMES.join(', ')}) nor the same folder as model_dir`,
    );
  }
  const dir = model ?? model_dir;
  if (dir === undefined)
    return err('set params.model (a built-in profile name or a model folder) and/or params.model_dir');
  return ok({ dir: abs(dir), profile: null });
}

type FieldCheck = (v: unknown) => string | null;
const oneOf =
  (...vals: string[]): FieldCheck =>
  (v) =>
    typeof v === 'string' && vals.includes(v)
      ? null
      : `must be one of ${vals.map((x) => `"${x}"`).join(', ')}`;
const posInt: FieldCheck = (v) =>
  Number.isInteger(v) && (v as number) > 0 ? null : 'must be a positive integer';
const nonNegInt: FieldCheck = (v) =>
  Number.isInteger(v) && (v as number) >= 0 ? null : 'must be an integer ≥ 0';
const str: FieldCheck = (v) => (typeof v === 'string' && v.length > 0 ? null : 'must be a non-empty string');
const fileName: FieldCheck = (v) =>
  typeof v === 'string' && v.length > 0 && !v.includes('/') && !v.includes('\\') && !v.startsWith('.')
    ? null
    : 'must be a file name inside the model folder';
const triple =
  (positive: boolean): FieldCheck =>
  (v) =>
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))
      ? null
      : `must be an array of 3 ${positive ? 'positive ' : ''}numbers`;

const FIELDS: Record<Exclude<keyof EmbedModelConfig, 'profile'>, FieldCheck> = {
  checkpoint: (v) => (v === null || typeof v === 'string' ? null : 'must be a string or null'),
  family: oneOf('clip', 'openclip', 'siglip2'),
  image_size: posInt,
  resize: oneOf('shortest', 'squash'),
  crop: oneOf('hf', 'torchvision'),
  interpolation: oneOf('bicubic', 'bilinear'),
  mean: triple(false),
  std: triple(true),
  exif_transpose: (v) => (typeof v === 'boolean' ? null : 'must be true or false'),
  context_length: posInt,
  tokenizer: oneOf('clip-bpe', 'hf'),
  special_tokens: oneOf('openai', 'openclip'),
  text_clean: oneOf('lower', 'canonicalize'),
  eos_token: str,
  pad_id: nonNegInt,
  embed_dim: (v) => (v === null ? null : posInt(v)),
  text_model: fileName,
  vision_model: fileName,
  text_input: str,
  text_output: str,
  vision_input: str,
  vision_output: str,
  clip_vocab: fileName,
  hf_tokenizer: fileName,
};

/** Defaults for a folder that names no profile: only what is safe to assume. */
const NO_PROFILE_DEFAULTS: Partial<EmbedModelConfig> = {
  ...FOLDER_DEFAULTS,
  profile: null,
  checkpoint: null,
  crop: 'hf',
  special_tokens: 'openai',
  embed_dim: null,
};

/** Reads `<dir>/pefuse-model.json` (if any), merges it over the profile and validates the result. */
export async function resolveModelConfig(ref: ModelRef): Promise<Result<EmbedModelConfig, string>> {
  const file = join(ref.dir, MODEL_JSON);
  let json: JsonObject | null = null;
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (!isJsonObject(parsed)) return err(`${file}: must be a JSON object`);
    json = parsed;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || (code === 'ENOENT' && !(await isDir(ref.dir)))) {
      return err(`model folder not found: ${ref.dir}`);
    }
    if (code !== 'ENOENT')
      return err(`${file}: ${e instanceof SyntaxError ? `invalid JSON (${e.message})` : String(e)}`);
  }
  let profile = ref.profile;
  if (json && json.profile !== undefined && json.profile !== null) {
    if (typeof json.profile !== 'string' || !(json.profile in PROFILES)) {
      return err(`${file}: field "profile" must be one of ${PROFILE_NAMES.join(', ')}`);
    }
    if (profile !== null && profile !== json.profile) {
      return err(`${file}: says profile "${json.profile}" but the stage asked for "${profile}"`);
    }
    profile = json.profile;
  }
  if (profile === null && json === null) {
    return err(
      `${ref.dir} has no ${MODEL_JSON} and no built-in profile was named: write ${MODEL_JSON} (see the README) or set model to one of ${PROFILE_NAMES.join(', ')}`,
    );
  }
  const base: Partial<EmbedModelConfig> =
    profile !== null ? { ...PROFILES[profile]! } : { ...NO_PROFILE_DEFAULTS };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(json ?? {})) {
    if (k === 'profile' || k === 'format' || k === 'comment') continue;
    if (!(k in FIELDS))
      return err(`${file}: unknown field "${k}" (known: ${Object.keys(FIELDS).join(', ')})`);
    merged[k] = v;
  }
  merged.profile = profile;
  for (const [k, check] of Object.entries(FIELDS)) {
    if (merged[k] === undefined) return err(`${file}: missing field "${k}"`);
    const problem = check(merged[k]);
    if (problem) return err(`${file}: field "${k}" ${problem}`);
  }
  return ok(merged as unknown as EmbedModelConfig);
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
