/**
 * Model identity for stage keys: the resolved configuration plus the sha256 of every file the model
 * uses (towers with their external-data sidecars, tokenizer files, pefuse-model.json) — never the
 * folder name, so renaming or copying a folder keeps its cache and replacing a tower invalidates it.
 * Hashing a multi-GB tower takes seconds, so hashes are cached by absolute path + size + mtime in a
 * small JSON file shared by all runs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { canonicalJson, type JsonObject, type JsonValue, sha256Hex } from '../../../runner/util/json.js';
import { err, ok, type Result } from '../../../runner/util/result.js';
import {
  type EmbedModelConfig,
  MODEL_JSON,
  type ModelRef,
  resolveModelConfig,
  resolveModelRef,
} from './config.js';

export const IDENTITY_FORMAT = 'pefuse-embed-model/1';

interface HashEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Where file hashes are cached: $PEFUSE_HASH_CACHE, else <$PEFUSE_CACHE or ./cache>/file-hashes.json. */
export function defaultHashCacheFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.PEFUSE_HASH_CACHE) return resolve(cwd, env.PEFUSE_HASH_CACHE);
  return resolve(cwd, env.PEFUSE_CACHE ?? 'cache', 'file-hashes.json');
}

const memo = new Map<string, HashEntry>();

async function readCache(file: string): Promise<Record<string, HashEntry>> {
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as { entries?: Record<string, HashEntry> };
    return j.entries ?? {};
  } catch {
    return {};
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** sha256 of each file, reusing cached hashes whose path, size and mtime still match. */
export async function hashFiles(
  paths: readonly string[],
  cacheFile: string,
): Promise<Record<string, string>> {
  const cached = await readCache(cacheFile);
  const out: Record<string, string> = {};
  const fresh: Record<string, HashEntry> = {};
  for (const p of paths) {
    const abs = resolve(p);
    const st = await stat(abs);
    const hit = memo.get(abs) ?? cached[abs];
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
      out[p] = hit.sha256;
      memo.set(abs, hit);
      continue;
    }
    const e = { size: st.size, mtimeMs: st.mtimeMs, sha256: await hashFile(abs) };
    memo.set(abs, e);
    fresh[abs] = e;
    out[p] = e.sha256;
  }
  if (Object.keys(fresh).length > 0) {
    try {
      await mkdir(dirname(cacheFile), { recursive: true });
      // Re-read and merge so concurrent writers lose nothing but their own race; rename is atomic.
      const entries = { ...(await readCache(cacheFile)), ...fresh };
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ format: 'pefuse-file-hashes/1', entries }));
      await rename(tmp, cacheFile);
    } catch {
      // The cache is an optimisation; an unwritable location only costs re-hashing next time.
    }
  }
  return out;
}

/** The files of a model folder that enter its identity, as names relative to the folder. */
export async function modelFiles(
  dir: string,
  cfg: EmbedModelConfig,
  which: 'text' | 'image' | 'both',
): Promise<string[]> {
  const names = await readdir(dir);
  const towers =
    which === 'text'
      ? [cfg.text_model]
      : which === 'image'
        ? [cfg.vision_model]
        : [cfg.text_model, cfg.vision_model];
  const wanted = new Set<string>();
  if (names.includes(MODEL_JSON)) wanted.add(MODEL_JSON);
  for (const t of towers) {
    const stem = t.replace(/\.onnx$/, '');
    // The tower and its external-data sidecars (`text_model.onnx_data`, `text_model.onnx.data`, …).
    for (const n of names)
      if (n === t || (n.startsWith(stem) && n !== stem && !n.endsWith('.json'))) wanted.add(n);
  }
  if (which !== 'image') {
    const tok = cfg.tokenizer === 'clip-bpe' ? [cfg.clip_vocab] : [cfg.hf_tokenizer, 'tokenizer_config.json'];
    for (const n of tok) if (names.includes(n)) wanted.add(n);
  }
  return [...wanted].sort();
}

export interface IdentityOptions {
  /** Built-in profile the folder is used with (as `params.model` names it). */
  profile?: string | null;
  hashCacheFile?: string;
  /** Only the files one tower needs (default: both towers). */
  which?: 'text' | 'image' | 'both';
}

/** Identity of a resolved model: config + file hashes. */
export async function identityOf(
  ref: ModelRef,
  cfg: EmbedModelConfig,
  opts: IdentityOptions = {},
): Promise<Result<JsonObject, string>> {
  try {
    const names = await modelFiles(ref.dir, cfg, opts.which ?? 'both');
    const hashes = await hashFiles(
      names.map((n) => join(ref.dir, n)),
      opts.hashCacheFile ?? defaultHashCacheFile(),
    );
    const files: JsonObject = {};
    for (const n of names) files[n] = hashes[join(ref.dir, n)]!;
    return ok({ format: IDENTITY_FORMAT, config: cfg as unknown as JsonObject, files });
  } catch (e) {
    return err(`cannot hash model files in ${ref.dir}: ${(e as Error).message}`);
  }
}

/**
 * The model identity for stage keys: `modelIdentity(dir)` for a folder with its own
 * pefuse-model.json, or `modelIdentity(dir, {profile})` for a built-in profile.
 */
export async function modelIdentity(
  dir: string,
  opts: IdentityOptions = {},
): Promise<Result<JsonValue, string>> {
  const ref = opts.profile
    ? resolveModelRef({ model: opts.profile, model_dir: dir })
    : resolveModelRef({ model: dir });
  if (!ref.ok) return ref;
  const cfg = await resolveModelConfig(ref.value);
  if (!cfg.ok) return cfg;
  const missing = await missingModelFiles(ref.value.dir, cfg.value, opts.which ?? 'both');
  if (missing.length > 0)
    return err(
      `incomplete: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing (an export that did not finish, or a --dry-run folder); export the towers with stages/embed/export_onnx.py --profile ${cfg.value.profile ?? 'NAME'} --out ${ref.value.dir}`,
    );
  return identityOf(ref.value, cfg.value, opts);
}

/** The files a model folder must hold to embed (`which` towers and, with the text tower, its tokenizer). */
export async function missingModelFiles(
  dir: string,
  cfg: EmbedModelConfig,
  which: 'text' | 'image' | 'both',
): Promise<string[]> {
  const need = [
    ...(which !== 'image' ? [cfg.text_model] : []),
    ...(which !== 'text' ? [cfg.vision_model] : []),
    ...(which !== 'image' ? [cfg.tokenizer === 'clip-bpe' ? cfg.clip_vocab : cfg.hf_tokenizer] : []),
  ];
  const present = await Promise.all(
    need.map((n) =>
      stat(resolve(dir, n)).then(
        (st) => st.isFile(),
        () => false,
      ),
    ),
  );
  return need.filter((_, i) => !present[i]);
}

/** Short digest of an identity, used inside item keys. */
export function identityDigest(identity: JsonValue): string {
  return sha256Hex(canonicalJson(identity));
}
