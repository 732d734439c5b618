/**
 * `npm run bench -- dummy`: speed of the offline demo's synthetic dataset and dummy backends (no
 * weights, no GPU). Targets on 2 cores: 432 PNGs generated in a few seconds, 400 images embedded in
 * < 2 s. Reference in the same run: sharp alone decoding the same PNGs to raw pixels (the floor for
 * anything that reads the images).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generateSynthetic, MAX_GALLERY, SYNTHETIC_DEFAULTS } from '../stages/datasets/synthetic/generate.js';
import { dummyEdit } from '../stages/dummy/diffusion.js';
import { embedText } from '../stages/dummy/features.js';
import { dummyCompose } from '../stages/dummy/mllm.js';
import { analyseImage } from '../stages/dummy/vision.js';
import { type BenchRow, printTable } from './table.js';

async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pefuse-bench-dummy-'));
  try {
    const p = { ...SYNTHETIC_DEFAULTS, n_gallery: MAX_GALLERY, n_queries: 120 };
    const t0 = performance.now();
    const a = await generateSynthetic(dir, p);
    const tGen = (performance.now() - t0) / 1000;
    if (a === null) throw new Error('generation aborted');
    const files = a.gallery.map((g) => join(dir, g.file));
    const byId = new Map(a.gallery.map((g) => [g.id, g]));
    await analyseImage(files[0]!); // prototypes, once per process
    const tRef = await timed(() => pool(files, 4, (f) => sharp(f).removeAlpha().raw().toBuffer()));
    const tEmbed = await timed(() => pool(files, 4, (f) => analyseImage(f)));
    const tText = await timed(async () => {
      for (const g of a.gallery) embedText(g.oracle_caption);
    });
    const tCompose = await timed(async () => {
      for (const q of a.queries)
        dummyCompose(
          { reference_caption: byId.get(q.reference)!.oracle_caption, text: q.text },
          { temperature: 0.5, top_p: 0.9, max_tokens: 0 },
          1,
        );
    });
    const params = { guidance_scale: 7.5, image_guidance_scale: 3, steps: 30 };
    const tEdit = await timed(async () => {
      for (const q of a.queries)
        await dummyEdit({ reference: join(dir, byId.get(q.reference)!.file), text: q.text }, params, 1);
    });
    const row = (name: string, n: number, s: number): BenchRow => ({
      name,
      items: n,
      seconds: s,
      'items/s': n / s,
      'vs reference': s / tRef,
    });
    printTable(
      `dummy backends: ${MAX_GALLERY} gallery images, ${a.queries.length} queries`,
      [
        row('reference: sharp decode PNG → raw (4 in flight)', files.length, tRef),
        row('synthetic: generate PNGs + annotations', files.length, tGen),
        row('dummy embed.image (analyseImage, 4 in flight)', files.length, tEmbed),
        row('dummy embed.text', a.gallery.length, tText),
        row('dummy mllm.compose (temperature 0.5)', a.queries.length, tCompose),
        row('dummy diffusion.edit (one at a time, as a worker)', a.queries.length, tEdit),
      ],
      ['items', 'seconds', 'items/s', 'vs reference'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
