/**
 * A tiny "vision model" for the dummy backends: pixel statistics of a one-object image. It finds the
 * background (median of the border), the object mask (pixels far from it), and from those the object's
 * colour, shape (mask signature against rendered prototypes), size and position. On the synthetic
 * benchmark it is nearly exact; on noisy dummy-diffusion output it degrades gracefully.
 */
import sharp from 'sharp';
import {
  type Attributes,
  BACKGROUND_NAMES,
  BACKGROUNDS,
  COLOUR_NAMES,
  COLOURS,
  SHAPES,
  SIZE_NAMES,
  SIZES,
} from '../datasets/synthetic/attributes.js';
import { renderRaw } from '../datasets/synthetic/render.js';
import { assemble, type BlockValues } from './features.js';

/** Analysis resolution (images are resized to N×N first). */
const N = 64;
/** Shape signature grid side. */
const G = 16;

export interface ImageAnalysis {
  /** Soft assignments (sum 1) over COLOUR_NAMES, SHAPES, SIZE_NAMES, BACKGROUND_NAMES. */
  colour: number[];
  shape: number[];
  size: number[];
  background: number[];
  /** The most likely attributes. */
  best: Attributes;
  /** Object centroid as a fraction of the image side (0..1). */
  centroid: [number, number];
  /** Mask area as a fraction of the image. */
  area: number;
}

interface MaskStats {
  bg: [number, number, number];
  fg: [number, number, number];
  grid: Float32Array;
  areaPx: number;
  centroid: [number, number];
}

/** Decodes any image sharp reads into N×N RGB. */
async function rawOf(input: string | Uint8Array, raw?: { width: number; height: number }): Promise<Buffer> {
  const img =
    raw !== undefined
      ? sharp(input as Uint8Array, { raw: { width: raw.width, height: raw.height, channels: 3 } })
      : sharp(input);
  return img
    .removeAlpha()
    .toColourspace('srgb')
    .resize(N, N, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
}

function maskStats(px: Buffer): MaskStats {
  const ring: number[][] = [[], [], []];
  for (let y = 0; y < N; y++)
    for (let x = 0; x < N; x++) {
      if (x !== 0 && y !== 0 && x !== N - 1 && y !== N - 1) continue;
      const o = (y * N + x) * 3;
      for (let c = 0; c < 3; c++) ring[c]!.push(px[o + c]!);
    }
  const bg: [number, number, number] = [median(ring[0]!), median(ring[1]!), median(ring[2]!)];
  const dist = new Float32Array(N * N);
  let maxD = 0;
  for (let i = 0; i < N * N; i++) {
    const d = Math.hypot(px[i * 3]! - bg[0], px[i * 3 + 1]! - bg[1], px[i * 3 + 2]! - bg[2]);
    dist[i] = d;
    if (d > maxD) maxD = d;
  }
  const sorted = Float32Array.from(dist).sort();
  const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
  const thr = Math.max(35, 0.5 * p99);
  let minX = N;
  let minY = N;
  let maxX = -1;
  let maxY = -1;
  let area = 0;
  let sx = 0;
  let sy = 0;
  const fgSum = [0, 0, 0];
  let fgN = 0;
  const mask = new Uint8Array(N * N);
  for (let y = 0; y < N; y++)
    for (let x = 0; x < N; x++) {
      const i = y * N + x;
      if (dist[i]! <= thr) continue;
      mask[i] = 1;
      area++;
      sx += x;
      sy += y;
      if (dist[i]! > 0.75 * p99) {
        for (let c = 0; c < 3; c++) fgSum[c]! += px[i * 3 + c]!;
        fgN++;
      }
    }
  // The bounding box from row/column projections, ignoring isolated noise pixels.
  const rows = new Array<number>(N).fill(0);
  const cols = new Array<number>(N).fill(0);
  for (let y = 0; y < N; y++)
    for (let x = 0; x < N; x++)
      if (mask[y * N + x]) {
        rows[y]!++;
        cols[x]!++;
      }
  for (let i = 0; i < N; i++) {
    if (rows[i]! >= 2) {
      minY = Math.min(minY, i);
      maxY = Math.max(maxY, i);
    }
    if (cols[i]! >= 2) {
      minX = Math.min(minX, i);
      maxX = Math.max(maxX, i);
    }
  }
  const grid = new Float32Array(G * G);
  if (maxX >= minX && maxY >= minY) {
    const side = Math.max(maxX - minX + 1, maxY - minY + 1);
    const x0 = (minX + maxX + 1) / 2 - side / 2;
    const y0 = (minY + maxY + 1) / 2 - side / 2;
    // Average the mask over each grid cell (4×4 sub-samples per cell).
    for (let gy = 0; gy < G; gy++)
      for (let gx = 0; gx < G; gx++) {
        let s = 0;
        for (let sy2 = 0; sy2 < 4; sy2++)
          for (let sx2 = 0; sx2 < 4; sx2++) {
            const x = Math.floor(x0 + ((gx + (sx2 + 0.5) / 4) * side) / G);
            const y = Math.floor(y0 + ((gy + (sy2 + 0.5) / 4) * side) / G);
            if (x >= 0 && y >= 0 && x < N && y < N) s += mask[y * N + x]!;
          }
        grid[gy * G + gx] = s / 16;
      }
  }
  const fg: [number, number, number] =
    fgN > 0 ? [fgSum[0]! / fgN, fgSum[1]! / fgN, fgSum[2]! / fgN] : [bg[0], bg[1], bg[2]];
  return {
    bg,
    fg,
    grid,
    areaPx: area,
    centroid: area > 0 ? [(sx / area + 0.5) / N, (sy / area + 0.5) / N] : [0.5, 0.5],
  };
}

interface Prototype {
  shape: number;
  grid: Float32Array;
  /** Mask area divided by the radius² (pixels at analysis resolution), to estimate size from area. */
  unitArea: number;
}

let prototypes: Promise<Prototype[]> | undefined;

/** Renders each shape at a few rotations through the same analysis path (once per process). */
function loadPrototypes(): Promise<Prototype[]> {
  prototypes ??= (async () => {
    const out: Prototype[] = [];
    for (const [si, shape] of SHAPES.entries())
      for (const rotation of [-12, 0, 12]) {
        const a: Attributes = { shape, colour: 'red', size: 'large', background: 'light' };
        const raw = await renderRaw(a, { cx: 64, cy: 64, rotation });
        const st = maskStats(await rawOf(raw, { width: 128, height: 128 }));
        const r = SIZES.large * N;
        out.push({ shape: si, grid: st.grid, unitArea: st.areaPx / (r * r) });
      }
    return out;
  })();
  return prototypes;
}

function softmax(scores: number[], temperature: number): number[] {
  const m = Math.max(...scores);
  const e = scores.map((s) => Math.exp((s - m) / temperature));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

function nearestSoft(
  rgb: readonly number[],
  palette: ReadonlyArray<readonly number[]>,
  sigma: number,
): number[] {
  return softmax(
    palette.map(
      (p) =>
        -((p[0]! - rgb[0]!) ** 2 + (p[1]! - rgb[1]!) ** 2 + (p[2]! - rgb[2]!) ** 2) / (2 * sigma * sigma),
    ),
    1,
  );
}

const argmax = (v: number[]) => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);

/** Analyses an image file (path) or encoded bytes (PNG, JPEG, …). Throws only if sharp cannot decode. */
export async function analyseImage(input: string | Uint8Array): Promise<ImageAnalysis> {
  const [protos, px] = await Promise.all([loadPrototypes(), rawOf(input)]);
  const st = maskStats(px);
  const shapeScore = SHAPES.map(() => -1);
  for (const p of protos) {
    let d = 0;
    for (let i = 0; i < G * G; i++) d += Math.abs(p.grid[i]! - st.grid[i]!);
    shapeScore[p.shape] = Math.max(shapeScore[p.shape]!, 1 - d / (G * G));
  }
  const shape = softmax(shapeScore, 0.02);
  const bestShape = argmax(shape);
  const unitArea = protos.filter((p) => p.shape === bestShape).reduce((a, p) => a + p.unitArea, 0) / 3;
  const rFrac = Math.sqrt(st.areaPx / Math.max(unitArea, 1e-6)) / N;
  const size = softmax(
    SIZE_NAMES.map((z) => -(Math.log(Math.max(rFrac, 1e-3) / SIZES[z]) ** 2) / (2 * 0.15 * 0.15)),
    1,
  );
  const colour = nearestSoft(st.fg, Object.values(COLOURS), 45);
  const background = nearestSoft(st.bg, Object.values(BACKGROUNDS), 40);
  return {
    colour,
    shape,
    size,
    background,
    best: {
      shape: SHAPES[bestShape]!,
      colour: COLOUR_NAMES[argmax(colour)]!,
      size: SIZE_NAMES[argmax(size)]!,
      background: BACKGROUND_NAMES[argmax(background)]!,
    },
    centroid: st.centroid,
    area: st.areaPx / (N * N),
  };
}

/** The dummy image embedding: the analysis' soft attributes in the shared feature space. */
export function imageEmbedding(a: ImageAnalysis): Float32Array {
  const values: BlockValues = { colour: a.colour, shape: a.shape, size: a.size, background: a.background };
  return assemble(values);
}
