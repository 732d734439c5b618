/**
 * Deterministic generator of the synthetic CIR benchmark used by the offline demo. Same parameters →
 * byte-identical annotations.json (and images), so the dataset stage caches like any other.
 *
 * Layout written under `dir`:
 *   images/<id>.png      IMAGE_SIZE² PNGs, one object each
 *   annotations.json     written last (temp file + rename): its presence means "complete"
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, type JsonObject, sha256Hex } from '../../../runner/util/json.js';
import {
  type Attributes,
  allCombos,
  BACKGROUND_NAMES,
  COLOUR_NAMES,
  captionOf,
  comboKey,
  IMAGE_SIZE,
  type Placement,
  SHAPES,
  SIZE_NAMES,
  SIZES,
} from './attributes.js';
import {
  applyModification,
  fillTemplate,
  MODIFICATION_KINDS,
  type ModificationKind,
  TEMPLATES,
} from './language.js';
import { pick, type Rng, randInt, rngFor, shuffled } from './prng.js';
import { renderPng } from './render.js';

/** Bumped whenever the generator's output changes for the same parameters (part of the stage key). */
export const SYNTHETIC_GENERATOR_VERSION = 1;

/** Largest gallery: one image per attribute combination. */
export const MAX_GALLERY = allCombos().length;

/**
 * The generator's parameter ranges, checked here before generating and by the planner at plan time
 * (stages/fingerprints.ts), so `pefuse validate` rejects what `pefuse run` would.
 */
export const SYNTHETIC_LIMITS = {
  n_gallery: { min: 10, max: MAX_GALLERY },
  n_queries: { min: 1, max: 1000 },
} as const;

export interface SyntheticParams {
  seed: number;
  split: string;
  n_gallery: number;
  n_queries: number;
}

/** Defaults (the same as the pipeline's, stages/pipeline.ts). */
export const SYNTHETIC_DEFAULTS: SyntheticParams = { seed: 0, split: 'val', n_gallery: 240, n_queries: 80 };

export interface SyntheticImage {
  id: string;
  /** Relative to the dataset folder. */
  file: string;
  attributes: Attributes;
  placement: Placement;
  /** The ground-truth caption; the dummy captioner reads it instead of looking at the image. */
  oracle_caption: string;
}

export interface SyntheticQuery {
  id: string;
  reference: string;
  text: string;
  kind: ModificationKind;
  target: string;
}

/** The annotations.json document. */
export interface SyntheticAnnotations {
  format: 'pefuse-synthetic/1';
  generator_version: number;
  params: SyntheticParams;
  image_size: number;
  gallery: SyntheticImage[];
  queries: SyntheticQuery[];
}

/** Checks parameter ranges; returns a message a user can act on, or null. */
export function checkSyntheticParams(p: SyntheticParams): string | null {
  if (!Number.isInteger(p.seed) || p.seed < 0) return `seed must be a non-negative integer (got ${p.seed})`;
  for (const k of ['n_gallery', 'n_queries'] as const) {
    const { min, max } = SYNTHETIC_LIMITS[k];
    if (!Number.isInteger(p[k]) || p[k] < min || p[k] > max)
      return `${k} must be an integer from ${min} to ${max} (got ${p[k]})`;
  }
  return null;
}

/** The annotations only (no images): a pure function of the parameters. */
export function buildAnnotations(p: SyntheticParams): SyntheticAnnotations {
  const rng = rngFor('synthetic', SYNTHETIC_GENERATOR_VERSION, p.seed, p.split);
  const combos = shuffled(rng, allCombos()).slice(0, p.n_gallery);
  const gallery: SyntheticImage[] = combos.map((attributes, i) => {
    const id = `g${String(i).padStart(4, '0')}`;
    return {
      id,
      file: `images/${id}.png`,
      attributes,
      placement: randomPlacement(rng, attributes),
      oracle_caption: captionOf(attributes),
    };
  });
  const byCombo = new Map(gallery.map((g) => [comboKey(g.attributes), g]));
  const queries: SyntheticQuery[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; queries.length < p.n_queries && attempt < p.n_queries * 200; attempt++) {
    const ref = pick(rng, gallery);
    const kind = pick(rng, MODIFICATION_KINDS);
    const made = makeModification(rng, ref.attributes, kind);
    if (made === null) continue;
    const target = byCombo.get(comboKey(made.target));
    if (target === undefined || target.id === ref.id) continue;
    const key = `${ref.id}|${made.text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    queries.push({
      id: `q${String(queries.length).padStart(4, '0')}`,
      reference: ref.id,
      text: made.text,
      kind,
      target: target.id,
    });
  }
  return {
    format: 'pefuse-synthetic/1',
    generator_version: SYNTHETIC_GENERATOR_VERSION,
    params: p,
    image_size: IMAGE_SIZE,
    gallery,
    queries,
  };
}

function randomPlacement(rng: Rng, a: Attributes): Placement {
  const r = SIZES[a.size] * IMAGE_SIZE;
  const lo = r + 3;
  const span = Math.max(0, IMAGE_SIZE - 2 * lo);
  return {
    cx: round2(lo + rng() * span),
    cy: round2(lo + rng() * span),
    rotation: round2((rng() - 0.5) * 24),
  };
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Picks new attribute values for a kind of modification and writes its text; null when impossible. */
function makeModification(
  rng: Rng,
  ref: Attributes,
  kind: ModificationKind,
): { target: Attributes; text: string } | null {
  const otherColour = () =>
    pick(
      rng,
      COLOUR_NAMES.filter((c) => c !== ref.colour),
    );
  const otherShape = () =>
    pick(
      rng,
      SHAPES.filter((s) => s !== ref.shape),
    );
  const otherBackground = () =>
    pick(
      rng,
      BACKGROUND_NAMES.filter((b) => b !== ref.background),
    );
  const sizeStep = (): { word: string; delta: number } | null => {
    const i = SIZE_NAMES.indexOf(ref.size);
    const options: Array<{ word: string; delta: number }> = [];
    if (i < SIZE_NAMES.length - 1) options.push({ word: pick(rng, ['larger', 'bigger']), delta: 1 });
    if (i > 0) options.push({ word: 'smaller', delta: -1 });
    return options.length > 0 ? options[randInt(rng, options.length)]! : null;
  };
  const v: { c?: string; s?: string; s0?: string; z?: string; b?: string } = { s0: ref.shape };
  const target: Attributes = { ...ref };
  if (kind.includes('colour')) v.c = target.colour = otherColour();
  if (kind.includes('shape')) v.s = target.shape = otherShape();
  if (kind.includes('background')) v.b = target.background = otherBackground();
  if (kind.includes('size')) {
    const step = sizeStep();
    if (step === null) return null;
    v.z = step.word;
    target.size = applyModification(ref, { sizeDelta: step.delta }).size;
  }
  return { target, text: fillTemplate(pick(rng, TEMPLATES[kind]), v) };
}

/** sha256 of the canonical parameters: names the dataset folder. */
export function syntheticParamsHash(p: SyntheticParams): string {
  const rec: JsonObject = { ...p, generator_version: SYNTHETIC_GENERATOR_VERSION };
  return sha256Hex(canonicalJson(rec));
}

/**
 * Writes the dataset into `dir` (images first, annotations.json last and atomically). Renders with a
 * bounded number of sharp calls in flight. Returns the annotations, or null when `signal` aborted it
 * (annotations.json is then not written, so the folder stays incomplete).
 */
export async function generateSynthetic(
  dir: string,
  p: SyntheticParams,
  opts: { concurrency?: number; signal?: AbortSignal } = {},
): Promise<SyntheticAnnotations | null> {
  const ann = buildAnnotations(p);
  await mkdir(join(dir, 'images'), { recursive: true });
  const concurrency = opts.concurrency ?? 8;
  let next = 0;
  const work = async () => {
    while (next < ann.gallery.length) {
      if (opts.signal?.aborted) return;
      const g = ann.gallery[next++]!;
      const png = await renderPng(g.attributes, g.placement);
      const tmp = join(dir, `${g.file}.${process.pid}.tmp`);
      await writeFile(tmp, png);
      await rename(tmp, join(dir, g.file));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, work));
  if (opts.signal?.aborted) return null;
  const tmp = join(dir, `annotations.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(ann, null, 1)}\n`);
  await rename(tmp, join(dir, 'annotations.json'));
  return ann;
}

/** Removes a partially generated folder (used when generation is aborted). */
export async function removePartial(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
