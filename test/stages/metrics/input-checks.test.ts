/**
 * What user-given rankings and score matrices must satisfy before metrics are computed from them: lists
 * deep enough for every K (else recall@50 silently becomes recall@5), no repeated query keys, a `.npy`
 * whose data matches its header, consistent GeneCIS gallery sizes.
 */
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../../../runner/util/npy.js';
import { loadDataset } from '../../../stages/datasets/index.js';
import type { LoadedDataset, LoadOptions } from '../../../stages/datasets/types.js';
import { firstDuplicateTopLevelKey } from '../../../stages/metrics/json-keys.js';
import { checkRankingDepth } from '../../../stages/metrics/rankings-depth.js';
import { rankingsFromJson } from '../../../stages/metrics/rankings-input.js';
import { rankingsFromScores, SCORE_DTYPES } from '../../../stages/metrics/scores-input.js';
import { circoRoot, cirrRoot, fashionIqRoot, genecisRoot, writeJson } from '../datasets/fixtures.js';

async function load(opts: LoadOptions): Promise<LoadedDataset> {
  const r = await loadDataset(opts);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

function depth(d: LoadedDataset, json: unknown): string | null {
  const ranked = rankingsFromJson(d, json, '--rankings r.json');
  if (!ranked.ok) throw new Error(ranked.error);
  const r = checkRankingDepth(d, ranked.value, '--rankings r.json');
  return r.ok ? null : r.error;
}

const img = (i: number) => `dev-${i}-0-img0`;
const HOW = 'give longer lists (the full ranking is always enough) or --scores';

describe('checkRankingDepth', () => {
  it('CIRR: the whole gallery but the reference (7 of 8 here), and enough img_set members', async () => {
    const d = await load({ dataset: 'cirr', split: 'val', root: cirrRoot() });
    // Full rankings (reference included or not) are fine.
    const full = (ref: number) => [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => i !== ref).map(img);
    expect(depth(d, { 100: full(0), 101: full(2), 102: full(3) })).toBeNull();
    expect(depth(d, { 100: [0, 1, 2, 3, 4, 5, 6, 7].map(img), 101: full(2), 102: full(3) })).toBeNull();
    // Seven ids, one of them the reference: six remain.
    expect(depth(d, { 100: full(0), 101: full(0), 102: full(3) })).toBe(
      `--rankings r.json: query "101" has 6 gallery ids after removing the reference (the list still holds the reference ${img(2)}: ` +
        `the official code removes it before taking the top 50); recall@50 needs at least 7 (the whole gallery but the reference): ${HOW}`,
    );
    expect(depth(d, { 100: [], 101: full(2), 102: full(3) })).toBe(
      `--rankings r.json: query "100" has 0 gallery ids after removing the reference; recall@50 needs at least 7 (the whole gallery but the reference): ${HOW}`,
    );
  });

  it('CIRR at full size: top-50 lists miss subset members; a top-50 list with the reference is 49 deep', async () => {
    const root = cirrRoot();
    const names = Array.from({ length: 60 }, (_, i) => img(i));
    writeJson(
      root,
      'cirr/image_splits/split.rc2.val.json',
      Object.fromEntries(names.map((n) => [n, `./dev/${n}.png`])),
    );
    const members = (ids: number[]) => ({ id: 1, members: ids.map(img) });
    writeJson(root, 'cirr/captions/cap.rc2.val.json', [
      {
        pairid: 7,
        reference: img(0),
        target_hard: img(1),
        caption: 'a',
        img_set: members([0, 1, 55, 56, 57, 58]),
      },
    ]);
    const d = await load({ dataset: 'cirr', split: 'val', root });
    const top50 = names.slice(1, 51); // holds img_set members 1 only (55..58 rank below 50)
    expect(depth(d, { 7: top50 })).toBe(
      '--rankings r.json: query "7" lists 1 of its 5 non-reference img_set members; recall_subset@3 needs the top 3 of them ' +
        'in global-ranking order (as `pefuse export` requires for the recall_subset file): give full rankings or --scores',
    );
    expect(depth(d, { 7: names.slice(0, 50) })).toBe(
      `--rankings r.json: query "7" has 49 gallery ids after removing the reference (the list still holds the reference ${img(0)}: ` +
        `the official code removes it before taking the top 50); recall@50 needs at least 50: ${HOW}`,
    );
    // Three members inside the top 50 fix the subset's top 3 exactly.
    expect(depth(d, { 7: [img(55), img(56), ...names.slice(1, 49)] })).toBeNull();
  });

  it('Fashion-IQ: min(50, gallery); GeneCIS: min(3, the sample gallery); CIRCO: short lists allowed', async () => {
    const fiq = await load({ dataset: 'fashioniq', split: 'val', root: fashionIqRoot(), category: 'dress' });
    expect(depth(fiq, { 0: ['A0', 'A1', 'A2', 'A3', 'A4'], 1: ['A3'] })).toBe(
      `--rankings r.json: query "1" has 1 gallery id; recall@50 needs at least 5 (the whole gallery): ${HOW}`,
    );
    const gen = await load({ dataset: 'genecis', split: 'val', root: genecisRoot(), task: 'focus_object' });
    expect(depth(gen, { 0: [0, 1, 2], 1: [3] })).toBe(
      `--rankings r.json: query "1" has 1 gallery position; recall@3 needs at least 3 (the sample's [target] + gallery has 4 candidates): ${HOW}`,
    );
    expect(depth(gen, { 0: [0, 1, 2], 1: [3, 2, 1] })).toBeNull();
    const circo = await load({ dataset: 'circo', split: 'val', root: circoRoot() });
    expect(depth(circo, { 0: [1001], 1: [] })).toBeNull();
  });
});

describe('score matrices and .npy files', () => {
  it('names the annotation file and record of an odd-sized GeneCIS sample', async () => {
    const root = genecisRoot();
    const o = (id: number) => ({ val_image_id: id });
    const file = writeJson(root, 'change_object.json', [
      { reference: o(1), target: o(2), condition: 'a', gallery: [o(3), o(4)] },
      { reference: o(1), target: o(2), condition: 'b', gallery: [o(3), o(4)] },
      { reference: o(1), target: o(2), condition: 'c', gallery: [o(3)] },
    ]);
    const d = await load({ dataset: 'genecis', split: 'val', root, task: 'change_object' });
    const npy = { dtype: '<f4' as const, shape: [3, 3], data: new Float32Array(9) };
    expect(rankingsFromScores(d, npy, { label: '--scores s.npy' })).toEqual({
      ok: false,
      error:
        `--scores s.npy: GeneCIS change_object samples have galleries of different sizes (2, 3): ${file}: record 2 has 2 ` +
        'candidates ([target] + gallery) where most have 3; a score matrix cannot hold them: use --rankings',
    });
  });

  it('parseNpy: one dtype message for the accepted dtypes, trailing bytes refused', () => {
    const good = encodeNpy({ dtype: '<i4', shape: [2], data: Int32Array.from([1, 2]) });
    expect(parseNpy(good, { dtypes: SCORE_DTYPES })).toEqual({
      ok: false,
      error: 'unsupported .npy dtype int32 (<i4): expected float32 or float64, little-endian',
    });
    const f2 = new TextDecoder('latin1').decode(good).replace("'<i4'", "'<f2'");
    expect(parseNpy(Uint8Array.from(f2, (c) => c.charCodeAt(0)))).toEqual({
      ok: false,
      error: 'unsupported .npy dtype <f2: expected float32, float64, int32 or int64, little-endian',
    });
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expect(parseNpy(longer)).toEqual({
      ok: false,
      error:
        "4 trailing bytes after the .npy data (the header's shape (2) needs 8 data bytes, the file has 12); save it again with numpy.save",
    });
  });
});

describe('firstDuplicateTopLevelKey', () => {
  it('finds repeated top-level keys only, whatever the values hold', () => {
    expect(firstDuplicateTopLevelKey('{"1": [1, 2], "2": {"1": "}"}, "3": ["\\"", ","]}')).toBeNull();
    expect(firstDuplicateTopLevelKey(' {"1": [1, {"a": [2]}], "2": "x", "\\u0031": []}')).toBe('1');
    expect(firstDuplicateTopLevelKey('[]')).toBeNull();
  });
});
