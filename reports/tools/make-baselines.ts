/**
 * Writes `experiments/baselines/<table>.json` from a JSON file of the paper's tables (numbers and labels):
 * numbers and labels only (methods, retrievers, printed column labels, values, lost and unreported cells)
 * plus the data file's notes on this table's lost cells. Run from the repository root:
 *
 *   npx tsx reports/tools/make-baselines.ts PAPER_TABLES.json
 *
 * A results table of `pefuse report` matches these columns by their printed label (`Shirt R@10`,
 * `Rsubset@1`, `mAP@5`) and shows the rows as *reported* beside its *reproduced* rows.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface PaperRow {
  method?: string;
  retrieval_model?: string | null;
  backbone?: string | null;
  origin?: string;
  marker?: string;
  models?: string[];
  diffusion_text_condition?: string;
  values: Record<string, number | null>;
  uncertain?: string[];
  not_reported?: string[];
}
interface PaperTable {
  id: string;
  caption: string;
  dataset: string | string[];
  split: string | Record<string, string>;
  unit: string | Record<string, string>;
  metric_columns: string[];
  markers?: Record<string, string>;
  rows: PaperRow[];
}

const src = process.argv[2];
if (src === undefined) {
  process.stderr.write('usage: npx tsx reports/tools/make-baselines.ts PAPER_TABLES.json\n');
  process.exit(2);
}
const data = JSON.parse(readFileSync(src, 'utf8')) as {
  tables: PaperTable[];
  notes: { uncertain_cells: string[] };
};
const out = 'experiments/baselines';
mkdirSync(out, { recursive: true });
for (const t of data.tables) {
  if (t.id === 'table6') continue; // benchmark sizes, not results
  const rows = t.rows.map((r) => {
    const row: Record<string, unknown> = {
      method: r.method ?? null,
      retrieval_model: r.retrieval_model ?? null,
      backbone: r.backbone ?? null,
      origin: r.origin ?? null,
    };
    if (r.marker) row.marker = r.marker;
    if (r.models) row.models = r.models;
    if (r.diffusion_text_condition) row.diffusion_text_condition = r.diffusion_text_condition;
    row.values = r.values;
    if (r.uncertain?.length) row.uncertain = r.uncertain;
    if (r.not_reported?.length) row.not_reported = r.not_reported;
    return row;
  });
  const doc = {
    source: `PEFUSE paper (anonymous submission under review), ${t.id.replace('table', 'Table ')}`,
    table: t.id,
    caption: t.caption,
    dataset: t.dataset,
    split: t.split,
    unit: t.unit,
    columns: t.metric_columns,
    ...(t.markers ? { markers: t.markers } : {}),
    lost_cells: data.notes.uncertain_cells.filter((n) => n.startsWith(`${t.id} /`)),
    rows,
  };
  writeFileSync(join(out, `${t.id}.json`), JSON.stringify(doc, null, 2) + '\n');
}
console.log(`wrote ${data.tables.length - 1} files to ${out}`);
