/**
 * Tiny dataset roots in the official layouts, written by the tests into temp folders (ties, reference
 * rules and error messages are easiest to see on a handful of images).
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../../helpers/cli.js';

export function writeJson(root: string, rel: string, value: unknown): string {
  const file = join(root, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** CIRR: 8 images `dev-<i>-0-img0`, 3 val queries (pairids 100..102) and the same 3 as test1. */
export function cirrRoot(): string {
  const root = tempDir('pefuse-cirr-');
  const img = (i: number) => `dev-${i}-0-img0`;
  const split = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [img(i), `./dev/${img(i)}.png`]));
  const members = (ids: number[]) => ({ id: 1, members: ids.map(img), reference_rank: 0, target_rank: 1 });
  const val = [
    {
      pairid: 100,
      reference: img(0),
      target_hard: img(1),
      caption: 'a',
      img_set: members([0, 1, 2, 3, 4, 5]),
    },
    {
      pairid: 101,
      reference: img(2),
      target_hard: img(6),
      caption: 'b',
      img_set: members([2, 6, 7, 3, 4, 5]),
    },
    {
      pairid: 102,
      reference: img(3),
      target_hard: img(4),
      caption: 'c',
      img_set: members([3, 4, 0, 1, 2, 5]),
    },
  ];
  writeJson(root, 'cirr/image_splits/split.rc2.val.json', split);
  writeJson(root, 'cirr/captions/cap.rc2.val.json', val);
  writeJson(root, 'cirr/image_splits/split.rc2.test1.json', split);
  writeJson(
    root,
    'cirr/captions/cap.rc2.test1.json',
    val.map(({ target_hard: _t, ...r }) => r),
  );
  return root;
}

/** Fashion-IQ dress: gallery `A0..A4`, 2 val queries (A0→A1, A2→A3). */
export function fashionIqRoot(): string {
  const root = tempDir('pefuse-fiq-');
  writeJson(root, 'image_splits/split.dress.val.json', ['A0', 'A1', 'A2', 'A3', 'A4']);
  writeJson(root, 'captions/cap.dress.val.json', [
    { target: 'A1', candidate: 'A0', captions: [' is red.', 'longer? '] },
    { target: 'A3', candidate: 'A2', captions: ['is blue', 'shorter'] },
  ]);
  return root;
}

/** CIRCO: info file with 60 images (ids 1000..1059), 2 val queries, 2 test queries. */
export function circoRoot(opts: { info?: boolean } = {}): string {
  const root = tempDir('pefuse-circo-');
  if (opts.info !== false)
    writeJson(root, 'COCO2017_unlabeled/annotations/image_info_unlabeled2017.json', {
      images: Array.from({ length: 60 }, (_, i) => ({ id: 1000 + i, file_name: `00000000${1000 + i}.jpg` })),
    });
  writeJson(root, 'annotations/val.json', [
    {
      reference_img_id: 1000,
      target_img_id: 1001,
      relative_caption: 'x',
      shared_concept: 'c',
      gt_img_ids: [1001, 1002, 1003],
      id: 0,
      semantic_aspects: ['cardinality', 'addition'],
    },
    {
      reference_img_id: 1010,
      target_img_id: 1011,
      relative_caption: 'y',
      shared_concept: 'd',
      gt_img_ids: [1011],
      id: 1,
      semantic_aspects: ['cardinality'],
    },
  ]);
  writeJson(root, 'annotations/test.json', [
    { reference_img_id: 1000, relative_caption: 'x', shared_concept: 'c', id: 0 },
    { reference_img_id: 1010, relative_caption: 'y', shared_concept: 'd', id: 1 },
  ]);
  return root;
}

/** GeneCIS: focus_object with 2 samples of 1 + 3 candidates; focus_attribute with 1 sample. */
export function genecisRoot(): string {
  const root = tempDir('pefuse-genecis-');
  const o = (id: number) => ({ val_image_id: id });
  writeJson(root, 'focus_object.json', [
    { reference: o(1), target: o(2), condition: 'dog', gallery: [o(3), o(4), o(2)] },
    { reference: o(5), target: o(6), condition: 'cat', gallery: [o(7), o(8), o(9)] },
  ]);
  const a = (id: number, box: number[]) => ({ image_id: id, instance_bbox: box });
  writeJson(root, 'focus_attribute.json', [
    {
      reference: a(10, [1, 2, 3, 4]),
      target: a(11, [0, 0, 5, 5]),
      condition: 'red',
      gallery: [a(12, [2, 2, 2, 2])],
    },
  ]);
  return root;
}

/**
 * A data folder holding `cirr/` as cirrRoot() writes it plus its 8 images (8×8 PNGs), so the dummy
 * backends can run a CIRR point (val and test1) end to end.
 */
export async function cirrDataWithImages(): Promise<string> {
  const data = tempDir('pefuse-data-');
  cpSync(cirrRoot(), join(data, 'cirr'), { recursive: true });
  mkdirSync(join(data, 'cirr', 'dev'), { recursive: true });
  for (let i = 0; i < 8; i++)
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 30 * i, g: 90, b: 200 } } })
      .png()
      .toFile(join(data, 'cirr', 'dev', `dev-${i}-0-img0.png`));
  return data;
}
