/**
 * The dummy MLLM: no weights, no GPU. It "composes" by applying the modification text to the
 * reference's oracle caption with the synthetic benchmark's word rules, and "captions" by returning the
 * oracle caption. Sampling parameters add seeded noise so sweeps give non-flat curves and repeats
 * differ: at temperature 0 the output is exact (like greedy decoding) whatever the seed.
 */
import {
  BACKGROUND_NAMES,
  COLOUR_NAMES,
  captionOf,
  SHAPES,
  SIZE_NAMES,
} from '../datasets/synthetic/attributes.js';
import { applyModification, parseText, words } from '../datasets/synthetic/language.js';
import { pick, type Rng, rngFor } from '../datasets/synthetic/prng.js';

/** Parameters the dummy MLLM reads (all optional; defaults below). */
export interface DummyMllmParams {
  /** Noise level: word dropout ≈ 0.15·t, attribute hallucination ≈ 0.12·t, filler words ≈ 0.1·t per word. */
  temperature: number;
  /** Scales the effective temperature (nucleus sampling cuts the tail): t_eff = temperature · top_p. */
  top_p: number;
  /** Truncates the output to this many words (0 = no limit). */
  max_tokens: number;
}

/** Defaults when a param is absent (the pipeline always passes stages/defaults.ts values). */
export const DUMMY_MLLM_DEFAULTS: DummyMllmParams = { temperature: 0, top_p: 1, max_tokens: 0 };

/** Reads the params a configure message carries, ignoring what the dummy does not use. */
export function mllmParamsOf(params: Record<string, unknown>): DummyMllmParams | string {
  const out = { ...DUMMY_MLLM_DEFAULTS };
  for (const k of Object.keys(out) as Array<keyof DummyMllmParams>) {
    const v = params[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return `${k} must be a non-negative number`;
    out[k] = v;
  }
  return out;
}

const FILLERS = ['photo', 'image', 'shiny', 'simple', 'flat', 'nice', 'centered', 'picture', 'clean', 'shot'];

/** Applies sampling noise to a description (pure function of text, params and seed). */
export function noisy(text: string, p: DummyMllmParams, seed: number): string {
  const t = p.temperature * Math.min(1, p.top_p);
  let toks = words(text);
  if (t > 0) {
    const rng = rngFor('dummy-mllm', seed);
    const drop = Math.min(0.6, 0.15 * t);
    const swap = Math.min(0.6, 0.12 * t);
    const filler = Math.min(0.5, 0.1 * t);
    const out: string[] = [];
    for (const w of toks) {
      if (rng() < drop) continue;
      out.push(rng() < swap ? hallucinate(rng, w) : w);
      if (rng() < filler) out.push(pick(rng, FILLERS));
    }
    toks = out;
  }
  if (p.max_tokens > 0) toks = toks.slice(0, p.max_tokens);
  return toks.join(' ');
}

/** Replaces an attribute word by another value of the same attribute (a "hallucination"). */
function hallucinate(rng: Rng, w: string): string {
  for (const list of [COLOUR_NAMES, SHAPES, SIZE_NAMES, BACKGROUND_NAMES] as ReadonlyArray<readonly string[]>)
    if (list.includes(w))
      return pick(
        rng,
        list.filter((x) => x !== w),
      );
  return w;
}

/** `mllm.compose`: the target description for a reference caption and a modification text. */
export function dummyCompose(
  input: { reference_caption: string; text: string },
  p: DummyMllmParams,
  seed: number,
): string {
  const ref = parseText(input.reference_caption);
  const mod = parseText(input.text);
  const { sizeDelta: _ignored, ...refAbs } = ref;
  const target = applyModification(refAbs, mod);
  return noisy(captionOf(target), p, seed);
}

/** `mllm.caption`: the description of a gallery image (its oracle caption, with sampling noise). */
export function dummyCaption(input: { oracle_caption: string }, p: DummyMllmParams, seed: number): string {
  return noisy(input.oracle_caption, p, seed);
}
