/**
 * The Pillow-exact resize (stages/embed/pil-resize.ts) is bit-exact: against Pillow itself (Debian's
 * python3-pil, when installed) and against the plain one-row-at-a-time form of the same arithmetic, on
 * random images, sizes (down and up), filters and crop windows; half of the crops are a multiple of
 * 8 pixels wide, where both passes run in WebAssembly SIMD (pil-resize-simd.ts), the others take the
 * JavaScript passes (or the SIMD horizontal one).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Filter, pilResizeRgb, pilResizeRgbJs } from '../../../stages/embed/pil-resize.js';
import { simdPasses } from '../../../stages/embed/pil-resize-simd.js';
import { tempDir } from '../../helpers/cli.js';

interface Case {
  w: number;
  h: number;
  outW: number;
  outH: number;
  filter: Filter;
  crop: { x: number; y: number; w: number; h: number };
  src: Uint8Array;
}

function cases(n: number, seed: number, maxSide: number): Case[] {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const out: Case[] = [];
  for (let k = 0; k < n; k++) {
    const w = int(1, maxSide);
    const h = int(1, maxSide);
    const outW = int(1, maxSide);
    const outH = int(1, maxSide);
    // Half the crops 8k pixels wide (the SIMD path), half any width.
    const cw = rnd() < 0.5 && outW >= 8 ? 8 * int(1, Math.floor(outW / 8)) : int(1, outW);
    const ch = int(1, outH);
    const src = new Uint8Array(w * h * 3);
    // Hard edges (0/255) as well as noise: where clipping and negative lobes matter.
    for (let i = 0; i < src.length; i++) src[i] = rnd() < 0.3 ? (rnd() < 0.5 ? 0 : 255) : int(0, 255);
    out.push({
      w,
      h,
      outW,
      outH,
      filter: rnd() < 0.5 ? 'bicubic' : 'bilinear',
      crop: { x: int(0, outW - cw), y: int(0, outH - ch), w: cw, h: ch },
      src,
    });
  }
  return out;
}

/** The same fixed-point arithmetic in its plainest form: one row, one value at a time. */
function reference(c: Case): Uint8Array {
  const P = 22;
  const kernel = (x: number) => {
    const t = Math.abs(x);
    if (c.filter === 'bilinear') return t < 1 ? 1 - t : 0;
    if (t < 1) return (1.5 * t - 2.5) * t * t + 1;
    if (t < 2) return (((t - 5) * t + 8) * t - 4) * -0.5;
    return 0;
  };
  const coeffs = (inSize: number, outSize: number, i: number) => {
    const scale = inSize / outSize;
    const fs = Math.max(scale, 1);
    const support = (c.filter === 'bicubic' ? 2 : 1) * fs;
    const center = (i + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5));
    const w: number[] = [];
    for (let x = xmin; x < xmax; x++) w.push(kernel((x - center + 0.5) / fs));
    const sum = w.reduce((a, b) => a + b, 0);
    return {
      xmin,
      k: w.map((v) => {
        const n = sum !== 0 ? v / sum : v;
        return n < 0 ? Math.trunc(-0.5 + n * 2 ** P) : Math.trunc(0.5 + n * 2 ** P);
      }),
    };
  };
  const clip = (v: number) => Math.min(255, Math.max(0, v >> P));
  const { w, h, outW, outH, src } = c;
  // Horizontal pass over every row (when needed), then vertical, as Pillow does.
  let mid = src;
  if (outW !== w) {
    mid = new Uint8Array(outW * h * 3);
    for (let x = 0; x < outW; x++) {
      const { xmin, k } = coeffs(w, outW, x);
      for (let y = 0; y < h; y++)
        for (let ch = 0; ch < 3; ch++) {
          let s = 1 << (P - 1);
          k.forEach((wt, j) => {
            s = (s + Math.imul(src[(y * w + xmin + j) * 3 + ch]!, wt)) | 0;
          });
          mid[(y * outW + x) * 3 + ch] = clip(s);
        }
    }
  }
  let full = mid;
  if (outH !== h) {
    full = new Uint8Array(outW * outH * 3);
    for (let y = 0; y < outH; y++) {
      const { xmin, k } = coeffs(h, outH, y);
      for (let x = 0; x < outW * 3; x++) {
        let s = 1 << (P - 1);
        k.forEach((wt, j) => {
          s = (s + Math.imul(mid[(xmin + j) * outW * 3 + x]!, wt)) | 0;
        });
        full[y * outW * 3 + x] = clip(s);
      }
    }
  }
  const out = new Uint8Array(c.crop.w * c.crop.h * 3);
  for (let y = 0; y < c.crop.h; y++)
    out.set(
      full.subarray(
        ((y + c.crop.y) * outW + c.crop.x) * 3,
        ((y + c.crop.y) * outW + c.crop.x + c.crop.w) * 3,
      ),
      y * c.crop.w * 3,
    );
  return out;
}

const resize = (c: Case) => pilResizeRgb(c.src, c.w, c.h, c.outW, c.outH, c.filter, c.crop);

describe('the Pillow-exact resize', () => {
  it('equals the plain form of its arithmetic on 300 random cases', () => {
    for (const c of cases(300, 7, 90))
      expect(Buffer.from(resize(c)).equals(Buffer.from(reference(c)))).toBe(true);
  });

  it('gives the same bytes with WebAssembly SIMD as with the JavaScript passes (224-wide crops and random ones)', () => {
    expect(simdPasses()).not.toBeNull(); // Node 20 has WebAssembly SIMD
    const clip: Case[] = cases(6, 3, 60).map((c, i) => ({
      ...c,
      w: 640 - i * 7,
      h: 480 + i * 5,
      src: new Uint8Array((640 - i * 7) * (480 + i * 5) * 3).map((_, j) => (j * 2654435761) >>> 24),
      outW: 298,
      outH: 224,
      filter: i % 2 ? 'bilinear' : 'bicubic',
      crop: { x: 37, y: 0, w: 224, h: 224 },
    }));
    for (const c of [...clip, ...cases(300, 13, 120)]) {
      const js = pilResizeRgbJs(c.src, c.w, c.h, c.outW, c.outH, c.filter, c.crop);
      expect(Buffer.from(resize(c)).equals(Buffer.from(js))).toBe(true);
    }
  });

  const python = '/usr/bin/python3';
  const hasPil = spawnSync(python, ['-c', 'import PIL, numpy']).status === 0;
  it.skipIf(!hasPil)(
    `equals Pillow's Image.resize bit for bit on 60 random cases${hasPil ? '' : ' — skipped: /usr/bin/python3 has no PIL/numpy'}`,
    () => {
      const dir = tempDir('pefuse-pil-resize-');
      const list = cases(60, 11, 160);
      list.forEach((c, i) => {
        writeFileSync(join(dir, `${i}.raw`), c.src);
      });
      writeFileSync(join(dir, 'cases.json'), JSON.stringify(list.map(({ src: _s, ...rest }) => rest)));
      const script = `
import json, sys, os
import numpy as np
from PIL import Image
d = sys.argv[1]
for i, c in enumerate(json.load(open(os.path.join(d, 'cases.json')))):
    a = np.fromfile(os.path.join(d, f'{i}.raw'), dtype=np.uint8).reshape(c['h'], c['w'], 3)
    f = Image.BICUBIC if c['filter'] == 'bicubic' else Image.BILINEAR
    im = Image.fromarray(a, 'RGB').resize((c['outW'], c['outH']), f)
    b = c['crop']
    open(os.path.join(d, f'{i}.pil'), 'wb').write(im.crop((b['x'], b['y'], b['x'] + b['w'], b['y'] + b['h'])).tobytes())
`;
      const r = spawnSync(python, ['-c', script, dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      list.forEach((c, i) => {
        const pil = readFileSync(join(dir, `${i}.pil`));
        expect({ i, same: Buffer.from(resize(c)).equals(pil) }).toEqual({ i, same: true });
      });
    },
  );
});
