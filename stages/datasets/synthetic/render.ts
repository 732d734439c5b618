/**
 * Renders one object to an image with sharp's bundled librsvg: an SVG string in, PNG or raw RGB out.
 * No text is drawn, so no fonts are needed and the output is the same on every machine.
 */
import type sharpModule from 'sharp';

/** sharp, imported on first render: planning imports this module (the generator's limits) and must not load it. */
let sharpLoaded: Promise<typeof sharpModule> | undefined;
function loadSharp(): Promise<typeof sharpModule> {
  sharpLoaded ??= import('sharp').then((m) => m.default);
  return sharpLoaded;
}

import {
  type Attributes,
  BACKGROUNDS,
  COLOURS,
  IMAGE_SIZE,
  type Placement,
  rgbHex,
  type Shape,
  SIZES,
} from './attributes.js';

/** Optional colour overrides (the dummy diffusion backend drifts colours when over-guided). */
export interface RenderStyle {
  fill?: readonly number[];
  background?: readonly number[];
  /** Multiplies the object's radius (diffusion noise); 1 by default. */
  scale?: number;
}

function polygon(cx: number, cy: number, pts: Array<[number, number]>): string {
  return pts.map(([x, y]) => `${(cx + x).toFixed(2)},${(cy + y).toFixed(2)}`).join(' ');
}

function regular(n: number, radius: number, phase: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const t = phase + (2 * Math.PI * i) / n;
    out.push([radius * Math.cos(t), radius * Math.sin(t)]);
  }
  return out;
}

/** The SVG element of a shape inscribed (roughly) in a circle of radius r around (cx, cy). */
function shapeElement(shape: Shape, cx: number, cy: number, r: number, fill: string): string {
  switch (shape) {
    case 'circle':
      return `<circle cx="${cx.toFixed(2)}" cy="${cy.toFixed(2)}" r="${(0.9 * r).toFixed(2)}" fill="${fill}"/>`;
    case 'square': {
      const h = 0.8 * r;
      return `<rect x="${(cx - h).toFixed(2)}" y="${(cy - h).toFixed(2)}" width="${(2 * h).toFixed(2)}" height="${(2 * h).toFixed(2)}" fill="${fill}"/>`;
    }
    case 'triangle':
      return `<polygon points="${polygon(cx, cy + 0.2 * r, regular(3, 1.05 * r, -Math.PI / 2))}" fill="${fill}"/>`;
    case 'star': {
      const pts: Array<[number, number]> = [];
      for (let i = 0; i < 10; i++) {
        const rad = i % 2 === 0 ? r : 0.45 * r;
        const t = -Math.PI / 2 + (Math.PI * i) / 5;
        pts.push([rad * Math.cos(t), rad * Math.sin(t)]);
      }
      return `<polygon points="${polygon(cx, cy, pts)}" fill="${fill}"/>`;
    }
    case 'hexagon':
      return `<polygon points="${polygon(cx, cy, regular(6, 0.92 * r, 0))}" fill="${fill}"/>`;
    case 'cross': {
      const a = 0.9 * r;
      const w = 0.3 * r;
      return (
        `<rect x="${(cx - a).toFixed(2)}" y="${(cy - w).toFixed(2)}" width="${(2 * a).toFixed(2)}" height="${(2 * w).toFixed(2)}" fill="${fill}"/>` +
        `<rect x="${(cx - w).toFixed(2)}" y="${(cy - a).toFixed(2)}" width="${(2 * w).toFixed(2)}" height="${(2 * a).toFixed(2)}" fill="${fill}"/>`
      );
    }
  }
}

/** The SVG document of one image. */
export function svgOf(a: Attributes, p: Placement, style: RenderStyle = {}): string {
  const r = SIZES[a.size] * IMAGE_SIZE * (style.scale ?? 1);
  const fill = rgbHex(style.fill ?? COLOURS[a.colour]);
  const bg = rgbHex(style.background ?? BACKGROUNDS[a.background]);
  const s = IMAGE_SIZE;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}" viewBox="0 0 ${s} ${s}">` +
    `<rect width="${s}" height="${s}" fill="${bg}"/>` +
    `<g transform="rotate(${p.rotation.toFixed(2)} ${p.cx.toFixed(2)} ${p.cy.toFixed(2)})">` +
    shapeElement(a.shape, p.cx, p.cy, r, fill) +
    '</g></svg>'
  );
}

/** PNG bytes of one image. */
export async function renderPng(a: Attributes, p: Placement, style: RenderStyle = {}): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(Buffer.from(svgOf(a, p, style)))
    .removeAlpha()
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Raw RGB bytes (IMAGE_SIZE × IMAGE_SIZE × 3) of one image, for post-processing in JS. */
export async function renderRaw(a: Attributes, p: Placement, style: RenderStyle = {}): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(Buffer.from(svgOf(a, p, style)))
    .removeAlpha()
    .raw()
    .toBuffer();
}

/** A placement that keeps an object of size `size` inside the image (with a small margin). */
export function clampPlacement(p: Placement, size: keyof typeof SIZES): Placement {
  const r = SIZES[size] * IMAGE_SIZE;
  const lo = r + 3;
  const hi = IMAGE_SIZE - r - 3;
  const clamp = (v: number) => Math.min(hi, Math.max(lo, v));
  return { cx: clamp(p.cx), cy: clamp(p.cy), rotation: p.rotation };
}
