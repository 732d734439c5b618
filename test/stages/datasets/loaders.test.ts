import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkImages, loadDataset } from '../../../stages/datasets/index.js';
import type { LoadedDataset, LoadOptions } from '../../../stages/datasets/types.js';
import { needShared, SHARED } from '../../helpers/cli.js';
import { circoRoot, cirrRoot, fashionIqRoot, genecisRoot, writeJson } from './fixtures.js';

async function load(opts: LoadOptions): Promise<LoadedDataset> {
  const r = await loadDataset(opts);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const EMPTY =
  'holds no queries (an empty JSON array or object); check that --data-root points at the official annotation files';

async function loadError(opts: LoadOptions): Promise<string> {
  const r = await loadDataset(opts);
  if (r.ok) throw new Error('expected a load error');
  return r.error.message;
}

describe('CIRR loader', () => {
  it('keeps the whole split file as gallery, keys queries by pairid, keeps img_set members', async () => {
    const root = cirrRoot();
    const d = await load({ dataset: 'cirr', split: 'val', root });
    expect(d.gallery.map((g) => g.id)).toEqual(Array.from({ length: 8 }, (_, i) => `dev-${i}-0-img0`));
    expect(d.gallery[0]!.path).toBe(join(root, 'dev', 'dev-0-0-img0.png'));
    expect(d.queries[1]).toEqual({
      id: '101',
      reference: { id: 'dev-2-0-img0', path: join(root, 'dev', 'dev-2-0-img0.png') },
      text: 'b',
      targets: ['dev-6-0-img0'],
      subset: [
        'dev-2-0-img0',
        'dev-6-0-img0',
        'dev-7-0-img0',
        'dev-3-0-img0',
        'dev-4-0-img0',
        'dev-5-0-img0',
      ],
      extra: { img_set_id: '1' },
    });
    expect(d.hasGroundTruth).toBe(true);
    expect(d.files).toEqual([
      join(root, 'cirr/captions/cap.rc2.val.json'),
      join(root, 'cirr/image_splits/split.rc2.val.json'),
    ]);
    const test = await load({ dataset: 'cirr', split: 'test', root });
    expect(test.hasGroundTruth).toBe(false);
    expect(test.queries[0]!.targets).toEqual([]);
    expect(test.contentHash).not.toBe(d.contentHash);
    expect((await load({ dataset: 'cirr', split: 'val', root })).contentHash).toBe(d.contentHash);
  });

  it('names the file, record and field of malformed records', async () => {
    const root = cirrRoot();
    const file = join(root, 'cirr/captions/cap.rc2.val.json');
    const rec = (over: object) => ({
      pairid: 1,
      reference: 'dev-0-0-img0',
      target_hard: 'dev-1-0-img0',
      caption: 'a',
      img_set: { id: 1, members: ['dev-0-0-img0', 'dev-1-0-img0'] },
      ...over,
    });
    const cases: [unknown, string][] = [
      [[rec({}), rec({ pairid: 'x' })], `record 1, field "pairid": expected an integer, got "x"`],
      [[rec({ pairid: 2 }), rec({ pairid: 2 })], `record 1, field "pairid": duplicate pairid 2`],
      [[rec({ target_hard: 'nope' })], `record 0, field "target_hard": "nope" is not in split.rc2.val.json`],
      [
        [rec({ img_set: { id: 1, members: ['dev-0-0-img0', 'zz'] } })],
        `record 0, field "img_set.members[1]": "zz" is not in split.rc2.val.json`,
      ],
      [
        [rec({ img_set: { id: 1, members: ['dev-0-0-img0', 'dev-2-0-img0'] } })],
        `record 0, field "img_set.members": does not contain target_hard "dev-1-0-img0" (Recall_subset ranks the target among the members)`,
      ],
      [
        [rec({}), rec({ pairid: 2, img_set: { id: 1, members: [] } })],
        `record 1, field "img_set.members": expected the img_set members (6 image names), got an empty array`,
      ],
      [
        [rec({ target_hard: 'dev-0-0-img0' })],
        `record 0, field "target_hard": equals the reference "dev-0-0-img0"; the reference is removed from the ranking, so this query could never be a hit`,
      ],
      [[], EMPTY],
      [[rec({ caption: undefined })], `record 0, field "caption": expected a string, it is missing`],
      [[rec({ img_set: 3 })], `record 0, field "img_set": expected an object, got 3`],
      [{ a: 1 }, `field "(top level)": expected a JSON array of records, got an object`],
    ];
    for (const [content, message] of cases) {
      writeJson(root, 'cirr/captions/cap.rc2.val.json', content);
      expect(await loadError({ dataset: 'cirr', split: 'val', root })).toBe(`${file}: ${message}`);
    }
    writeFileSync(file, '[{"pairid": 1,');
    expect(await loadError({ dataset: 'cirr', split: 'val', root })).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON \\(`),
    );
  });

  it('says which file is missing and what the dataset root must contain', async () => {
    const root = join(cirrRoot(), 'nowhere');
    expect(await loadError({ dataset: 'cirr', split: 'val', root })).toBe(
      `${join(root, 'cirr/captions/cap.rc2.val.json')}: not found (CIRR val captions; the dataset root must contain cirr/captions/)`,
    );
  });
});

describe('Fashion-IQ loader', () => {
  it('keeps both captions and joins them stripped (CIReVL form); the category split is the gallery', async () => {
    const root = fashionIqRoot();
    const d = await load({ dataset: 'fashioniq', split: 'val', root, category: 'dress' });
    expect(d.subset).toBe('dress');
    expect(d.gallery.map((g) => g.id)).toEqual(['A0', 'A1', 'A2', 'A3', 'A4']);
    expect(d.queries[0]).toEqual({
      id: '0',
      reference: { id: 'A0', path: join(root, 'images', 'A0.jpg') },
      text: 'is red and longer',
      captions: [' is red.', 'longer? '],
      targets: ['A1'],
    });
  });

  it('rejects a record with one caption and requires a category', async () => {
    const root = fashionIqRoot();
    const file = writeJson(root, 'captions/cap.dress.val.json', [
      { target: 'A1', candidate: 'A0', captions: ['x'] },
    ]);
    expect(await loadError({ dataset: 'fashioniq', split: 'val', root, category: 'dress' })).toBe(
      `${file}: record 0, field "captions": expected exactly 2 captions, got 1`,
    );
    expect(await loadError({ dataset: 'fashioniq', split: 'val', root })).toBe(
      'Fashion-IQ needs a category (dress, shirt or toptee)',
    );
  });

  it('warns about a candidate missing from the split file; refuses empty files', async () => {
    const root = fashionIqRoot();
    const file = writeJson(root, 'captions/cap.dress.val.json', [
      { target: 'A1', candidate: 'A0', captions: ['x', 'y'] },
      { target: 'A1', candidate: 'Z9', captions: ['x', 'y'] },
      { target: 'A1', candidate: 'Z8', captions: ['x', 'y'] },
    ]);
    const d = await load({ dataset: 'fashioniq', split: 'val', root, category: 'dress' });
    expect(d.warnings).toEqual([
      `${file}: record 1, field "candidate": "Z9" is not in split.dress.val.json (nor are 1 more candidates); ` +
        'every official reference is in its category gallery: check the category and split files',
    ]);
    writeJson(root, 'captions/cap.dress.val.json', []);
    expect(await loadError({ dataset: 'fashioniq', split: 'val', root, category: 'dress' })).toBe(
      `${file}: ${EMPTY}`,
    );
    const split = writeJson(root, 'image_splits/split.dress.val.json', []);
    expect(await loadError({ dataset: 'fashioniq', split: 'val', root, category: 'dress' })).toBe(
      `${split}: holds no images (an empty JSON array or object); check that --data-root points at the official annotation files`,
    );
  });

  it('counts and lists missing images without failing the load', async () => {
    const root = fashionIqRoot();
    mkdirSync(join(root, 'images'));
    for (const n of ['A0', 'A1']) writeFileSync(join(root, 'images', `${n}.jpg`), '');
    const d = await load({ dataset: 'fashioniq', split: 'val', root, category: 'dress' });
    expect(await checkImages(d, { limit: 2 })).toEqual({
      missing_count: 3,
      missing: [join(root, 'images', 'A2.jpg'), join(root, 'images', 'A3.jpg')],
    });
  });
});

describe('CIRCO loader', () => {
  it('takes the gallery from the COCO info file, in its order', async () => {
    const root = circoRoot();
    const d = await load({ dataset: 'circo', split: 'val', root });
    expect(d.galleryKnown).toBe(true);
    expect(d.gallery).toHaveLength(60);
    expect(d.gallery[0]).toEqual({
      id: '1000',
      path: join(root, 'COCO2017_unlabeled/unlabeled2017/000000001000.jpg'),
    });
    expect(d.queries[0]!.targets).toEqual(['1001', '1002', '1003']);
    expect(d.queries[0]!.aspects).toEqual(['cardinality', 'addition']);
    expect(d.queries[0]!.extra).toEqual({ shared_concept: 'c', target_img_id: '1001' });
    expect(d.warnings).toEqual([]);
    expect(d.files).toHaveLength(2);
  });

  it('falls back to the image folder listing with a warning, else leaves the gallery unknown', async () => {
    const root = circoRoot({ info: false });
    const imgs = join(root, 'COCO2017_unlabeled/unlabeled2017');
    const d0 = await load({ dataset: 'circo', split: 'test', root });
    expect(d0.galleryKnown).toBe(false);
    expect(d0.warnings).toEqual([
      `CIRCO gallery unknown: neither ${join(root, 'COCO2017_unlabeled/annotations/image_info_unlabeled2017.json')} ` +
        `nor the image folder ${imgs} exists; rankings can be evaluated, but score matrices cannot be mapped to image ids`,
    ]);
    mkdirSync(imgs, { recursive: true });
    for (const n of ['000000000020.jpg', '000000000003.jpg', 'notes.txt']) writeFileSync(join(imgs, n), '');
    const d = await load({ dataset: 'circo', split: 'test', root });
    expect(d.gallery.map((g) => g.id)).toEqual(['3', '20']);
    expect(d.warnings[0]).toContain('CIRCO gallery taken from the listing of');
    expect(d.contentHash).not.toBe(d0.contentHash);
  });

  it('requires id == record index (the server looks queries up by position)', async () => {
    const root = circoRoot();
    const file = writeJson(root, 'annotations/test.json', [
      { reference_img_id: 1, relative_caption: 'x', shared_concept: 'c', id: 5 },
    ]);
    expect(await loadError({ dataset: 'circo', split: 'test', root })).toBe(
      `${file}: record 0, field "id": expected 0 (the record's index: the evaluation server looks queries up by position), got 5`,
    );
  });
});

describe('CIRCO loader: what the server code assumes', () => {
  it('requires target_img_id == gt_img_ids[0] and at least one query', async () => {
    const root = circoRoot();
    const file = writeJson(root, 'annotations/val.json', [
      {
        reference_img_id: 1000,
        target_img_id: 1002,
        relative_caption: 'x',
        shared_concept: 'c',
        gt_img_ids: [1001, 1002],
        id: 0,
        semantic_aspects: [],
      },
    ]);
    expect(await loadError({ dataset: 'circo', split: 'val', root })).toBe(
      `${file}: record 0, field "target_img_id": 1002 differs from gt_img_ids[0] 1001 (CIRCO's target is always the first ground truth)`,
    );
    writeJson(root, 'annotations/val.json', []);
    expect(await loadError({ dataset: 'circo', split: 'val', root })).toBe(`${file}: ${EMPTY}`);
  });
});

describe('GeneCIS loader', () => {
  it('builds per-sample galleries [target] + gallery (duplicates kept) and a distinct-image gallery', async () => {
    const root = genecisRoot();
    const d = await load({ dataset: 'genecis', split: 'val', root, task: 'focus_object' });
    expect(d.queries[0]!.gallery).toEqual(['2', '3', '4', '2']);
    expect(d.queries[0]!.targets).toEqual(['2']);
    expect(d.queries[0]!.reference.path).toBe(join(root, 'val2017', '000000000001.jpg'));
    expect(d.gallery.map((g) => g.id)).toEqual(['2', '3', '4', '6', '7', '8', '9']);
    const a = await load({
      dataset: 'genecis',
      split: 'val',
      root,
      task: 'focus_attribute',
      imageRoot: '/vg',
    });
    expect(a.queries[0]!.reference).toEqual({ id: '10@1,2,3,4', path: '/vg/10.jpg', bbox: [1, 2, 3, 4] });
    expect(a.gallery[1]).toEqual({ id: '12@2,2,2,2', path: '/vg/12.jpg', bbox: [2, 2, 2, 2] });
  });

  it('rejects bad boxes, a missing task and a test split', async () => {
    const root = genecisRoot();
    const file = writeJson(root, 'change_attribute.json', [
      { reference: { image_id: 1, instance_bbox: [1, 2, 3] }, target: {}, condition: 'x', gallery: [] },
    ]);
    expect(await loadError({ dataset: 'genecis', split: 'val', root, task: 'change_attribute' })).toBe(
      `${file}: record 0, field "reference.instance_bbox": expected [x, y, w, h] with w, h > 0, got [1,2,3]`,
    );
    expect(await loadError({ dataset: 'genecis', split: 'val', root })).toBe(
      'GeneCIS needs a task (focus_attribute, change_attribute, focus_object or change_object)',
    );
    expect(await loadError({ dataset: 'genecis', split: 'test', root, task: 'focus_object' })).toBe(
      'GeneCIS has a single evaluation split: use --split val',
    );
    const empty = writeJson(root, 'change_object.json', []);
    expect(await loadError({ dataset: 'genecis', split: 'val', root, task: 'change_object' })).toBe(
      `${empty}: ${EMPTY}`,
    );
  });
});

/** The annotation files (relative to ../shared) a loader reads for `opts`, to guard each case on them. */
function annotationFiles(opts: LoadOptions): string[] {
  const root = relative(SHARED, opts.root);
  switch (opts.dataset) {
    case 'cirr': {
      const s = opts.split === 'test' ? 'test1' : 'val';
      return [`cirr/captions/cap.rc2.${s}.json`, `cirr/image_splits/split.rc2.${s}.json`].map((f) =>
        join(root, f),
      );
    }
    case 'fashioniq':
      return [
        `captions/cap.${opts.category}.${opts.split}.json`,
        `image_splits/split.${opts.category}.${opts.split}.json`,
      ].map((f) => join(root, f));
    case 'circo':
      return [join(root, 'annotations', `${opts.split}.json`)];
    case 'genecis':
      return [join(root, `${opts.task}.json`)];
  }
}

describe('loaders on the official annotation files (../shared/datasets)', () => {
  const D = join(SHARED, 'datasets');
  const cases: [LoadOptions, number, number | null][] = [
    [{ dataset: 'cirr', split: 'val', root: D }, 4181, 2297],
    [{ dataset: 'cirr', split: 'test', root: D }, 4148, 2315],
    [{ dataset: 'fashioniq', split: 'val', root: join(D, 'fashion-iq'), category: 'dress' }, 2017, 3817],
    [{ dataset: 'fashioniq', split: 'val', root: join(D, 'fashion-iq'), category: 'shirt' }, 2038, 6346],
    [{ dataset: 'fashioniq', split: 'val', root: join(D, 'fashion-iq'), category: 'toptee' }, 1961, 5373],
    [{ dataset: 'fashioniq', split: 'test', root: join(D, 'fashion-iq'), category: 'toptee' }, 2056, 5374],
    [{ dataset: 'circo', split: 'val', root: join(D, 'circo') }, 220, 0],
    [{ dataset: 'circo', split: 'test', root: join(D, 'circo') }, 800, 0],
    [{ dataset: 'genecis', split: 'val', root: join(D, 'genecis'), task: 'focus_object' }, 1960, null],
    [{ dataset: 'genecis', split: 'val', root: join(D, 'genecis'), task: 'change_object' }, 1960, null],
  ];
  for (const [opts, nq, ng] of cases) {
    const g = needShared(...annotationFiles(opts));
    it.skipIf(g.skip)(
      g.title(
        `${JSON.stringify({ ...opts, root: relative(SHARED, opts.root) })}: ${nq} queries, gallery ${ng}`,
      ),
      async () => {
        const d = await load(opts);
        expect(d.queries).toHaveLength(nq);
        if (ng !== null) expect(d.gallery).toHaveLength(ng);
        expect(d.contentHash).toMatch(/^[0-9a-f]{64}$/);
        if (opts.dataset === 'genecis')
          expect(new Set(d.queries.map((q) => q.gallery!.length))).toEqual(new Set([15]));
      },
    );
  }

  const cirrVal = needShared(...annotationFiles({ dataset: 'cirr', split: 'val', root: D }));
  it.skipIf(cirrVal.skip)(
    cirrVal.title('CIRR val: 4181 unique pairids, every img_set contains the reference'),
    async () => {
      const d = await load({ dataset: 'cirr', split: 'val', root: D });
      expect(new Set(d.queries.map((q) => q.id)).size).toBe(4181);
      expect(d.queries.every((q) => q.subset!.length === 6 && q.subset!.includes(q.reference.id))).toBe(true);
      expect(d.queries[0]!.id).toBe('12060');
    },
  );
});

describe('annotation paths stay inside the dataset root or its images folder', () => {
  const leaves = (file: string, where: string, path: string, folders: string) =>
    `${file}: ${where}: the image path ${path} leaves ${folders}; annotation files may only name images inside them (refused: check where this file came from)`;

  it('CIRCO: an info-file file_name that climbs out of the images folder', async () => {
    const root = circoRoot();
    const info = writeJson(root, 'COCO2017_unlabeled/annotations/image_info_unlabeled2017.json', {
      images: [
        { id: 1000, file_name: '000000001000.jpg' },
        { id: 1001, file_name: '../../../../../etc/passwd' },
      ],
    });
    expect(await loadError({ dataset: 'circo', split: 'val', root })).toBe(
      leaves(info, 'record 1, field "images[].file_name"', '/etc/passwd', `the dataset root ${root}`),
    );
  });

  it('GeneCIS: an attribute image_id with a path in it', async () => {
    const root = genecisRoot();
    const a = (id: number | string) => ({ image_id: id, instance_bbox: [0, 0, 2, 2] });
    const file = writeJson(root, 'focus_attribute.json', [
      { reference: a(1), target: a(2), condition: 'red', gallery: [a(3)] },
      { reference: a(1), target: a(2), condition: 'red', gallery: [a(3), a('../../../../../../home/x')] },
    ]);
    const images = join(root, 'VG_100K_all');
    expect(await loadError({ dataset: 'genecis', split: 'val', root, task: 'focus_attribute' })).toBe(
      leaves(file, 'record 1, field "gallery[1].image_id"', '/home/x.jpg', `the dataset root ${root}`),
    );
    // With an images folder given, both it and the root are allowed, and the message names both.
    expect(
      await loadError({ dataset: 'genecis', split: 'val', root, task: 'focus_attribute', imageRoot: images }),
    ).toBe(
      leaves(
        file,
        'record 1, field "gallery[1].image_id"',
        '/home/x.jpg',
        `the dataset root ${root} and the images folder ${images}`,
      ),
    );
  });

  it('Fashion-IQ: a caption candidate that climbs out', async () => {
    const root = fashionIqRoot();
    const caps = writeJson(root, 'captions/cap.dress.val.json', [
      { target: 'A1', candidate: '../../x', captions: ['a', 'b'] },
    ]);
    expect(await loadError({ dataset: 'fashioniq', split: 'val', root, category: 'dress' })).toBe(
      leaves(caps, 'record 0, field "candidate"', join(root, '..', 'x.jpg'), `the dataset root ${root}`),
    );
  });

  it('CIRR: images are read from the images folder when one is given; an absolute path elsewhere is refused', async () => {
    const root = cirrRoot();
    const images = join(root, '..', `${root.split('/').pop()}-images`);
    const d = await load({ dataset: 'cirr', split: 'val', root, imageRoot: images });
    expect(d.gallery[0]!.path).toBe(join(images, 'dev', 'dev-0-0-img0.png'));
    expect(d.queries[0]!.reference.path).toBe(join(images, 'dev', 'dev-0-0-img0.png'));
    const split = writeJson(root, 'cirr/image_splits/split.rc2.val.json', {
      'dev-0-0-img0': '/var/x.png',
    });
    expect(await loadError({ dataset: 'cirr', split: 'val', root })).toBe(
      leaves(split, 'record "dev-0-0-img0", field "(image path)"', '/var/x.png', `the dataset root ${root}`),
    );
  });
});
