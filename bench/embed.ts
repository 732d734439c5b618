/**
 * `npm run bench -- embed`: the CPU side of the embedding stage.
 *
 * 1. Images/s for decode + preprocess (CLIP: short side 224, bicubic, center crop; uint8 + CHW float)
 *    of 640×480 JPEG files, 16 in flight (each image decoded and resized on one of the preprocessing
 *    workers): goal ≥ PIL. References in the same run: PIL (Debian python3-pil: open →
 *    convert('RGB') → resize BICUBIC → crop → numpy float) in one process and in one per core, sharp's
 *    decode alone, the PIL-exact resize alone (one thread), our pipeline one image at a time, and
 *    sharp's own resize (not PIL-exact). Each round runs every measurement once, rounds interleaved
 *    (`--repeat N` rounds, default 3), so a drifting load on a shared machine hits them alike.
 * 2. Texts/s for CLIP BPE tokenization (clean + BPE + 77-long rows) of benchmark-like captions:
 *    target ≥ 20,000/s. Reference: the same tokenizer with its BPE cache disabled (naive).
 *    Needs the CLIP vocabulary: $PEFUSE_CLIP_VOCAB or ../shared/tokenizers/clip/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { PROFILES } from '../stages/embed/model/profiles.js';
import { pilResizeRgb } from '../stages/embed/pil-resize.js';
import { geometry, normalizeInto, preprocessPixels } from '../stages/embed/preprocess.js';
import { closePreprocessPools } from '../stages/embed/preprocess-pool.js';
import { ClipBpeTokenizer, loadClipVocab } from '../stages/embed/tokenizer/clip-bpe.js';
import { type BenchRow, printTable, repeats, type Spread, showSpread, spread } from './table.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N_IMAGES = 240;
const N_TEXTS = 20_000;
const CFG = PROFILES['clip-vit-b-32']!;

async function syntheticJpegs(n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const w = 640;
    const h = 480;
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        px[o] = (x + i * 7) & 255;
        px[o + 1] = (y * 2 + i) & 255;
        px[o + 2] = 128 + Math.round(100 * Math.sin((x + 2 * y + i) / 6));
      }
    }
    out.push(
      await sharp(px, { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 90 })
        .toBuffer(),
    );
  }
  return out;
}

/** Bounded parallelism: `limit` items in flight. */
async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const PIL_SCRIPT = `
import sys, os, time
from multiprocessing import Pool
from PIL import Image
import numpy as np
mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
def prep(path):
    im = Image.open(path).convert('RGB')
    w, h = im.size
    rw, rh = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
    im = im.resize((rw, rh), Image.BICUBIC)
    l, t = (rw - 224) // 2, (rh - 224) // 2
    a = np.asarray(im.crop((l, t, l + 224, t + 224)), dtype=np.float32) / 255.0
    return ((a - mean) / std).transpose(2, 0, 1).shape
if __name__ == '__main__':
    d, procs, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    files = [os.path.join(d, f) for f in sorted(os.listdir(d))]
    out = []
    if procs == 1:
        for r in range(reps + 1):
            t0 = time.perf_counter()
            for f in files: prep(f)
            out.append(time.perf_counter() - t0)
    else:
        with Pool(procs) as p:
            for r in range(reps + 1):
                t0 = time.perf_counter()
                p.map(prep, files, chunksize=8)
                out.append(time.perf_counter() - t0)
    print(' '.join(str(x) for x in out[1:]))
`;

/** Debian's Python with PIL and NumPy (or a python3 on PATH that has them), or null. */
function pilPython(): string | null {
  return (
    ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import PIL, numpy']).status === 0) ??
    null
  );
}

/** Seconds of one timed PIL + NumPy pass over the files (after one warm-up pass), in `procs` processes. */
function pilOnce(python: string, dir: string, procs: number): number {
  const r = spawnSync(python, ['-c', PIL_SCRIPT, dir, String(procs), '1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PIL reference failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

async function imageBench(): Promise<void> {
  const jpegs = await syntheticJpegs(N_IMAGES);
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-embed-'));
  for (const [i, b] of jpegs.entries()) writeFileSync(join(dir, `${String(i).padStart(4, '0')}.jpg`), b);
  const files = jpegs.map((_, i) => join(dir, `${String(i).padStart(4, '0')}.jpg`));
  const threads = availableParallelism();
  const reps = repeats(3);
  const python = pilPython();
  const full = async (f: string, t = threads) => {
    const px = await preprocessPixels(f, CFG, t);
    normalizeInto(px, CFG, new Float32Array(3 * 224 * 224), 0);
  };
  const decode = (f: string) =>
    sharp(f, { ignoreIcc: true, failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  // The resize part alone: the decoded pixels are made once, outside the timing.
  const decoded = await Promise.all(files.map(decode));
  // Warm-up (JIT in the main thread and the workers, sharp/libvips init, page cache).
  await pool(files, 16, (f) => full(f));
  const seconds = async (fn: () => Promise<void> | void) => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  // Every measurement once per round, rounds interleaved: a drifting machine load hits all alike.
  const series = {
    parallel: [] as number[],
    pil: [] as number[],
    serial: [] as number[],
    decodeOnly: [] as number[],
    resizeOnly: [] as number[],
    sharpResize: [] as number[],
    pilN: [] as number[],
  };
  for (let r = 0; r < reps; r++) {
    series.parallel.push(await seconds(() => pool(files, 16, (f) => full(f))));
    if (python) series.pil.push(pilOnce(python, dir, 1));
    series.serial.push(
      await seconds(async () => {
        for (const f of files) await full(f, 1);
      }),
    );
    series.decodeOnly.push(
      await seconds(() =>
        pool(files, 16, async (f) => {
          await decode(f);
        }),
      ),
    );
    series.resizeOnly.push(
      await seconds(() => {
        for (const { data, info } of decoded) {
          const g = geometry(CFG, info.width, info.height);
          pilResizeRgb(data, info.width, info.height, g.rw, g.rh, CFG.interpolation, {
            x: g.left,
            y: g.top,
            w: 224,
            h: 224,
          });
        }
      }),
    );
    series.sharpResize.push(
      await seconds(() =>
        pool(files, 16, async (f) => {
          await sharp(f)
            .removeAlpha()
            .resize(298, 224, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
            .extract({ left: 37, top: 0, width: 224, height: 224 })
            .raw()
            .toBuffer();
        }),
      ),
    );
    if (python && threads > 1) series.pilN.push(pilOnce(python, dir, threads));
  }
  rmSync(dir, { recursive: true, force: true });
  const pil = series.pil.length > 0 ? spread(series.pil) : null;
  const pilN = series.pilN.length > 0 ? spread(series.pilN) : null;
  const parallel = spread(series.parallel);
  const serial = spread(series.serial);
  const ref = pil ?? serial;
  const rate = (s: Spread): Spread => ({
    min: N_IMAGES / s.max,
    median: N_IMAGES / s.median,
    max: N_IMAGES / s.min,
    n: s.n,
  });
  const row = (name: string, s: Spread, note: string): BenchRow => ({
    name,
    'img/s median (min–max)': showSpread(rate(s), (v) => v.toFixed(0)),
    'vs PIL': ref.median / s.median,
    note,
  });
  const rows: BenchRow[] = [];
  if (pil) rows.push(row('PIL + NumPy (python3-pil, 1 process)', pil, 'reference'));
  rows.push(
    row(
      `pefuse, 16 in flight, ${threads} preprocessing workers`,
      parallel,
      `goal ≥ PIL (${(ref.median / parallel.median).toFixed(2)}×: ${ref.median >= parallel.median ? 'meets' : 'misses'})`,
    ),
    row('pefuse, one at a time, inline', serial, pil ? '' : 'reference (PIL unavailable)'),
    row(
      'sharp decode alone, 16 in flight',
      spread(series.decodeOnly),
      'the decode part alone (same decode as pefuse)',
    ),
    row('PIL-exact resize + crop alone, 1 thread', spread(series.resizeOnly), 'the resize part alone'),
    row(
      'sharp decode + its own resize (not PIL-exact)',
      spread(series.sharpResize),
      'for scale: off by up to 7/255 (100/255 up)',
    ),
  );
  if (pilN) rows.push(row(`PIL + NumPy, ${threads} processes (multiprocessing)`, pilN, 'PIL on all cores'));
  printTable(
    `embed: decode + preprocess of ${N_IMAGES} 640×480 JPEG files → CLIP 224 (CHW float32), ${reps} interleaved rounds`,
    rows,
    ['img/s median (min–max)', 'vs PIL', 'note'],
  );
}

const WORDS =
  'the a is with and of in dress shirt red blue longer sleeves darker more colorful has pattern logo print on front dog cat two people standing near water beach instead remove add change background to white black shorter wears hat sunglasses'.split(
    ' ',
  );

function captions(n: number): string[] {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  return Array.from({ length: n }, (_, i) => {
    const len = 6 + Math.floor(rnd() * 18) + (i % 50 === 0 ? 80 : 0); // some MLLM-length descriptions
    return (
      Array.from({ length: len }, () => WORDS[Math.floor(rnd() * WORDS.length)]!).join(' ') +
      (i % 3 ? '.' : '')
    );
  });
}

async function textBench(): Promise<void> {
  const vocabPath =
    process.env.PEFUSE_CLIP_VOCAB ??
    join(ROOT, '..', 'shared', 'tokenizers', 'clip', 'bpe_simple_vocab_16e6.txt.gz');
  if (!existsSync(vocabPath)) {
    console.log(`\n(embed text bench skipped: no CLIP vocabulary at ${vocabPath}; set PEFUSE_CLIP_VOCAB)`);
    return;
  }
  const v = await loadClipVocab(vocabPath);
  if (!v.ok) throw new Error(v.error);
  const texts = captions(N_TEXTS);
  const tok = new ClipBpeTokenizer(v.value);
  for (const t of texts.slice(0, 2000)) tok.tokenize(t);
  const t0 = performance.now();
  let truncated = 0;
  for (const t of texts) if (tok.tokenize(t).truncated) truncated++;
  const cached = (performance.now() - t0) / 1000;
  // Naive: no BPE cache, every word goes through the full merge loop.
  const naiveTexts = texts.slice(0, 4000);
  const naiveTok = new ClipBpeTokenizer(v.value, 'openai', 0);
  const t1 = performance.now();
  for (const t of naiveTexts) naiveTok.tokenize(t);
  const naive = (performance.now() - t1) / 1000;
  const rate = N_TEXTS / cached;
  const naiveRate = naiveTexts.length / naive;
  printTable(
    'embed: CLIP BPE tokenization (clean + BPE + 77-long rows)',
    [
      {
        name: 'pefuse tokenizer (BPE cache)',
        texts: N_TEXTS,
        seconds: cached,
        'texts/s': rate,
        'vs reference': rate / naiveRate,
        note: `target ≥ 20,000/s; ${truncated} truncated`,
      },
      {
        name: 'naive: BPE cache disabled',
        texts: naiveTexts.length,
        seconds: naive,
        'texts/s': naiveRate,
        'vs reference': 1,
        note: 'reference',
      },
    ],
    ['texts', 'seconds', 'texts/s', 'vs reference', 'note'],
  );
}

export async function run(): Promise<void> {
  await imageBench();
  await closePreprocessPools();
  await textBench();
}
