/**
 * `npm run bench -- embed`: the CPU side of the embedding stage.
 *
 * 1. Images/s for decode + preprocess (CLIP: short side 224, bicubic, center crop; uint8 + CHW float)
 *    of 640×480 JPEGs, with many images in flight (sharp decodes on the libuv pool, our Pillow-exact
 *    resize runs on the main thread): target ≥ 150 img/s on 2 cores. References in the same run:
 *    PIL (Debian python3-pil: open → convert('RGB') → resize BICUBIC → crop → numpy float, one
 *    process), our pipeline one image at a time, and sharp's own resize (not PIL-exact).
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
import { normalizeInto, preprocessPixels } from '../stages/embed/preprocess.js';
import { closeResizePools } from '../stages/embed/resize-pool.js';
import { ClipBpeTokenizer, loadClipVocab } from '../stages/embed/tokenizer/clip-bpe.js';
import { type BenchRow, printTable } from './table.js';

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

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
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
from PIL import Image
import numpy as np
d = sys.argv[1]
files = sorted(os.listdir(d))
mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
t0 = time.perf_counter()
for f in files:
    im = Image.open(os.path.join(d, f)).convert('RGB')
    w, h = im.size
    rw, rh = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
    im = im.resize((rw, rh), Image.BICUBIC)
    l, t = (rw - 224) // 2, (rh - 224) // 2
    a = np.asarray(im.crop((l, t, l + 224, t + 224)), dtype=np.float32) / 255.0
    x = ((a - mean) / std).transpose(2, 0, 1)
print(time.perf_counter() - t0)
`;

function pilSeconds(files: Buffer[]): number | null {
  const python = ['/usr/bin/python3', 'python3'].find(
    (p) => spawnSync(p, ['-c', 'import PIL, numpy']).status === 0,
  );
  if (!python) return null;
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-embed-'));
  try {
    for (const [i, b] of files.entries()) writeFileSync(join(dir, `${String(i).padStart(4, '0')}.jpg`), b);
    const r = spawnSync(python, ['-c', PIL_SCRIPT, dir], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.trim()) : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function imageBench(): Promise<void> {
  const jpegs = await syntheticJpegs(N_IMAGES);
  const threads = availableParallelism();
  const full = async (b: Buffer, t = threads) => {
    const px = await preprocessPixels(b, CFG, t);
    normalizeInto(px, CFG, new Float32Array(3 * 224 * 224), 0);
  };
  // Warm-up (JIT, sharp/libvips init).
  for (const b of jpegs.slice(0, 10)) await full(b);
  const parallel = await timeIt(() => pool(jpegs, 16, full));
  const serial = await timeIt(async () => {
    for (const b of jpegs) await full(b, 1);
  });
  const sharpResize = await timeIt(() =>
    pool(jpegs, 16, async (b) => {
      await sharp(b)
        .removeAlpha()
        .resize(298, 224, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
        .extract({ left: 37, top: 0, width: 224, height: 224 })
        .raw()
        .toBuffer();
    }),
  );
  const pil = pilSeconds(jpegs);
  const ref = pil ?? serial;
  const row = (name: string, s: number, note: string): BenchRow => ({
    name,
    images: N_IMAGES,
    seconds: s,
    'img/s': N_IMAGES / s,
    'vs reference': ref / s,
    note,
  });
  const rows: BenchRow[] = [
    row(`pefuse, 16 in flight, ${threads} resize workers`, parallel, `target ≥ 150 img/s (${threads} cores)`),
    row(
      'pefuse, one at a time, inline resize',
      serial,
      pil === null ? 'reference (PIL unavailable)' : 'naive baseline',
    ),
    row('sharp resize only (not PIL-exact)', sharpResize, 'for scale: ±7/255 vs PIL'),
  ];
  if (pil !== null) rows.push(row('PIL + numpy (python3, 1 process)', pil, 'reference'));
  printTable('embed: decode + preprocess, 640×480 JPEG → CLIP 224 (CHW float32)', rows, [
    'images',
    'seconds',
    'img/s',
    'vs reference',
    'note',
  ]);
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
  await closeResizePools();
  await textBench();
}
