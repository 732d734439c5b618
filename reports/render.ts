/**
 * Headless rendering of Vega-Lite specs: vega-lite → Vega → SVG (vega's `none` renderer, no canvas) →
 * PNG with resvg and the DejaVu fonts shipped in reports/fonts (without a font file resvg silently drops
 * all text). vega, vega-lite and resvg are imported lazily, only when a report renders.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (works from dist/ too). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) =>
  join(packageRoot(), 'reports', 'fonts', f),
);

export interface Rendered {
  svg: string;
  png: Buffer;
  /** PNG size in pixels (the SVG's size × `scale`). */
  width: number;
  height: number;
  /** Warnings vega-lite and vega logged while compiling and rendering (a clean spec has none). */
  warnings: string[];
}

/** Compiles a Vega-Lite spec, collecting its warnings (also used by tests to check specs compile cleanly). */
export async function compileVegaLite(spec: object): Promise<{ vega: object; warnings: string[] }> {
  const vl = await import('vega-lite');
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const out = vl.compile(spec as Parameters<typeof vl.compile>[0], { logger: logger as never });
  return { vega: out.spec, warnings };
}

function collectingLogger(warnings: string[]) {
  let lvl = 2;
  const logger = {
    level(l?: number) {
      if (l === undefined) return lvl;
      lvl = l;
      return logger;
    },
    error(...a: unknown[]) {
      warnings.push(`error: ${a.map(String).join(' ')}`);
      return logger;
    },
    warn(...a: unknown[]) {
      warnings.push(a.map(String).join(' '));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

export async function renderChart(spec: object, scale = 2): Promise<Rendered> {
  const vega = await import('vega');
  const { Resvg } = await import('@resvg/resvg-js');
  const { vega: vgSpec, warnings } = await compileVegaLite(spec);
  const view = new vega.View(vega.parse(vgSpec as never), {
    renderer: 'none',
    logger: collectingLogger(warnings) as never,
  });
  const svg = await view.toSVG();
  view.finalize();
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: false, fontFiles: FONT_FILES, defaultFontFamily: 'DejaVu Sans' },
  });
  const image = resvg.render();
  return { svg, png: image.asPng(), width: image.width, height: image.height, warnings };
}
