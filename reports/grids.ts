/**
 * Qualitative grids (the paper's Figures 4–5): for the best configuration's chosen, best or worst
 * queries, one row each: the modification text and MLLM description, the reference image, the generated
 * image (I→I / I→T), and the top-5 retrieved images with ground truth framed green. Thumbnails and the
 * composition use sharp; text panels are rendered with resvg and the shipped font. Images come from the
 * dataset (paths in the dataset stage's query/gallery lists) and the cache (generated images); nothing
 * is computed.
 */
import { readFile } from 'node:fs/promises';
import type { StageKey } from '../runner/contract/stage.js';
import { openStore } from '../runner/store/index.js';
import { isJsonObject, type JsonObject } from '../runner/util/json.js';
import type { GalleryItem, QueryRecord } from '../stages/contracts.js';
import { metricLabel } from '../stages/metrics/names.js';
import { type ExperimentData, readGenerations, readPerQuery } from './data.js';
import { groupPoints, metricStats, showValue } from './groups.js';
import { figureMetric } from './plots.js';
import { FONT_FILES } from './render.js';
import type { ReportItem } from './spec.js';
import { htmlEscape } from './table-format.js';

export interface GridOutput {
  title: string;
  png: Buffer;
  caption: string;
}

const TILE = 128;
const GAP = 8;
const TEXT_W = 280;
const LABEL_H = 18;

type GridItem = Extract<ReportItem, { grid: string }>;

export async function qualitativeGrid(
  item: GridItem,
  data: ExperimentData,
  req: { db: import('../runner/results/types.js').ResultsDb; cacheRoot: string; experiment: string },
): Promise<GridOutput | { missing: string }> {
  if (data.points.length === 0) return { missing: 'no point has metrics yet' };
  const metric = figureMetric(item, data.points);
  const groups = groupPoints(data.points);
  let best = groups[0]!;
  for (const g of groups)
    if ((metricStats(g.points, metric)?.mean ?? -1) > (metricStats(best.points, metric)?.mean ?? -1))
      best = g;
  const point = best.points[0]!;
  const stageRows = await req.db.query(
    `SELECT s.kind, s.key FROM point_stages p JOIN stages s ON s.key = p.stage_key
     WHERE p.experiment = $e AND p.point_id = $p AND p.side = 'query'`,
    { e: req.experiment, p: point.id },
  );
  if (!stageRows.ok) return { missing: stageRows.error.message };
  const keyOf = (kind: string) => stageRows.value.find((r) => r.kind === kind)?.key as string | undefined;
  const datasetKey = keyOf('dataset');
  const scoreKey = keyOf('score');
  if (!datasetKey || !scoreKey) return { missing: 'the point has no dataset or score stage recorded' };
  const store = openStore(req.cacheRoot);
  const manifest = await store.stages.readManifest(datasetKey as StageKey);
  if (!manifest.ok || !manifest.value || !isJsonObject(manifest.value.output))
    return { missing: `the dataset stage is not in the cache at ${req.cacheRoot}` };
  const out = manifest.value.output as JsonObject;
  const readJson = async <T>(ref: unknown): Promise<T | null> => {
    if (!isJsonObject((ref ?? null) as never)) return null;
    const r = await store.objects.read(ref as never);
    return r.ok ? (JSON.parse(Buffer.from(r.value).toString('utf8')) as T) : null;
  };
  const queries = await readJson<QueryRecord[]>(out.queries);
  const gallery = await readJson<GalleryItem[]>(out.gallery);
  if (!queries || !gallery) return { missing: 'the dataset lists are not in the cache' };
  const galleryPath = new Map(gallery.map((g) => [g.id, g.path]));
  const byId = new Map(queries.map((q) => [q.id, q]));

  // Which queries: chosen ids, or the best / worst by per-query value (ties: dataset order).
  const count = 'count' in item && item.count ? item.count : 4;
  let ids: string[];
  if (item.grid === 'chosen') ids = (item.queries ?? []).filter((q) => byId.has(q));
  else {
    const pq = (await readPerQuery(req.db, [point], metric)).get(point.id);
    if (!pq) return { missing: 'no per-query results recorded for the best configuration' };
    const order = queries.map((q) => q.id).filter((q) => pq.has(q));
    order.sort((a, b) => (item.grid === 'best' ? pq.get(b)! - pq.get(a)! : pq.get(a)! - pq.get(b)!));
    ids = order.slice(0, count);
  }
  if (ids.length === 0) return { missing: 'none of the chosen queries is in the dataset' };
  const ranked = await req.db.query(
    `SELECT query_id, rank, gallery_id FROM rankings_named WHERE stage_key = $k AND rank <= 5
       AND list_contains($ids::JSON::VARCHAR[], query_id) ORDER BY query_id, rank`,
    { k: scoreKey, ids: JSON.stringify(ids) },
  );
  if (!ranked.ok) return { missing: ranked.error.message };
  const top = new Map<string, string[]>();
  for (const r of ranked.value)
    top.set(String(r.query_id), [...(top.get(String(r.query_id)) ?? []), String(r.gallery_id)]);
  const composeKey = keyOf('mllm.compose');
  const editKey = keyOf('diffusion.edit');
  const descriptions = composeKey ? await readGenerations(req.db, composeKey) : new Map();
  const edits = editKey ? await readGenerations(req.db, editKey) : new Map();

  const sharp = (await import('sharp')).default;
  const { Resvg } = await import('@resvg/resvg-js');
  // All text goes into one SVG overlay rendered once by resvg (each render parses the font files).
  const texts: string[] = [];
  const text = (lines: { text: string; bold?: boolean }[], left: number, top: number): void => {
    for (const [i, l] of lines.entries())
      texts.push(
        `<text x="${left + 4}" y="${top + 16 + i * 15}" font-size="12" font-family="DejaVu Sans"${
          l.bold ? ' font-weight="bold"' : ''
        }>${htmlEscape(l.text)}</text>`,
      );
  };
  const thumb = async (source: string | Buffer | null, frame: string): Promise<Buffer> => {
    const inner = TILE - 8;
    let img: Buffer;
    try {
      img =
        source === null
          ? await blank(inner)
          : await sharp(typeof source === 'string' ? await readFile(source) : source)
              .resize(inner, inner, { fit: 'contain', background: '#ffffff' })
              .flatten({ background: '#ffffff' })
              .png()
              .toBuffer();
    } catch {
      img = await blank(inner);
    }
    return sharp({ create: { width: TILE, height: TILE, channels: 3, background: frame } })
      .composite([{ input: img, left: 4, top: 4 }])
      .png()
      .toBuffer();
  };
  const blank = (s: number) =>
    sharp({ create: { width: s, height: s, channels: 3, background: '#eeeeee' } })
      .png()
      .toBuffer();

  const rowH = TILE + LABEL_H + GAP;
  const headerH = 24;
  const cols = ['reference', ...(editKey ? ['generated'] : []), '#1', '#2', '#3', '#4', '#5'];
  const width = TEXT_W + GAP + cols.length * (TILE + GAP);
  const height = headerH + ids.length * rowH;
  const layers: { input: Buffer; left: number; top: number }[] = [];
  cols.forEach((c, j) => {
    text([{ text: c, bold: true }], TEXT_W + GAP + j * (TILE + GAP), 0);
  });
  for (const [i, id] of ids.entries()) {
    const q = byId.get(id)!;
    const y = headerH + i * rowH;
    const desc = descriptions.get(id)?.text;
    const lines = [
      { text: `query ${id}`, bold: true },
      ...wrap(`text: ${q.text}`, 40),
      ...(typeof desc === 'string' ? wrap(`MLLM: ${desc}`, 40) : []),
    ].slice(0, 9);
    text(lines, 0, y);
    const tiles: (string | Buffer | null)[] = [q.reference.path];
    if (editKey) {
      const sha = edits.get(id)?.image_sha256;
      tiles.push(typeof sha === 'string' ? store.objects.pathOf(sha) : null);
    }
    const retrieved = top.get(id) ?? [];
    const frames = tiles.map(() => '#999999');
    for (let r = 0; r < 5; r++) {
      const g = retrieved[r];
      tiles.push(g ? (galleryPath.get(g) ?? null) : null);
      frames.push(g && q.targets.includes(g) ? '#1a9c3a' : '#dddddd');
    }
    for (const [j, t] of tiles.entries()) {
      layers.push({ input: await thumb(t, frames[j]!), left: TEXT_W + GAP + j * (TILE + GAP), top: y });
      const g = j >= tiles.length - 5 ? retrieved[j - (tiles.length - 5)] : undefined;
      const label = g ? `${g}${q.targets.includes(g) ? ' ✓ GT' : ''}` : '';
      if (label) text([{ text: label }], TEXT_W + GAP + j * (TILE + GAP), y + TILE - 2);
    }
  }
  const overlay = new Resvg(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`,
    { font: { loadSystemFonts: false, fontFiles: FONT_FILES, defaultFontFamily: 'DejaVu Sans' } },
  )
    .render()
    .asPng();
  layers.push({ input: overlay, left: 0, top: 0 });
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
  const config = Object.entries(best.config)
    .map(([k, v]) => `${k}=${showValue(v)}`)
    .join(', ');
  return {
    title: `${item.grid === 'chosen' ? 'Chosen' : item.grid === 'best' ? 'Best' : 'Worst'} queries of the best configuration (${config})`,
    png,
    caption: `by ${metricLabel(metric)} per query; repeat ${showValue(point.params.repeat ?? 0)}; green frame: ground truth`,
  };
}

function wrap(text: string, width: number): { text: string }[] {
  const out: { text: string }[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    if ((line + ' ' + w).trim().length > width && line) {
      out.push({ text: line });
      line = w;
    } else line = (line + ' ' + w).trim();
  }
  if (line) out.push({ text: line });
  return out;
}
