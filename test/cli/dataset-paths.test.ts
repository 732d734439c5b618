/**
 * Paths taken from annotation files stay inside the dataset's root or its images folder (a downloaded
 * annotation file must not make pefuse read, or upload, any file on the machine), and `datasets[].images`
 * is honoured by every benchmark. Through the real CLI: `validate` and `plan` report an escaping record
 * as a located error naming the file, the record and the path; `run` refuses before any stage runs.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { pefuse, tempDir } from '../helpers/cli.js';
import { cirrRoot, fashionIqRoot, writeJson } from '../stages/datasets/fixtures.js';

const MODELS = `mode: t2i
mllm: { backend: dummy, model: m }
retrieval: { backend: dummy, model: d }
`;

function spec(dir: string, dataset: string): string {
  const file = join(dir, 'spec.yaml');
  writeJson(dir, 'spec.yaml', `experiment: paths\ndatasets:\n  - ${dataset}\n${MODELS}`);
  return file;
}

async function png(file: string, r: number): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 40, b: 200 - r } } })
    .png()
    .toFile(file);
}

describe('annotation paths that leave the dataset folders', () => {
  it('CIRR: validate, plan and run refuse a split entry ../../../../etc/hostname, naming file, record and path', async () => {
    const root = cirrRoot();
    const split = writeJson(root, 'cirr/image_splits/split.rc2.val.json', {
      ...Object.fromEntries(
        Array.from({ length: 8 }, (_, i) => [`dev-${i}-0-img0`, `./dev/dev-${i}-0-img0.png`]),
      ),
      'dev-evil': '../../../../etc/hostname',
    });
    const dir = tempDir();
    spec(dir, `{ name: cirr, split: val, root: ${root} }`);
    const want = `${split}: record "dev-evil", field "(image path)": the image path /etc/hostname leaves the dataset root ${root}; annotation files may only name images inside them (refused: check where this file came from)`;
    for (const cmd of ['validate', 'plan']) {
      const r = await pefuse([cmd, 'spec.yaml'], { cwd: dir });
      expect(r.exitCode, cmd).toBe(2);
      expect(r.stderr, cmd).toContain(`spec.yaml:3:37: error: ${want}`);
    }
    const cache = join(dir, 'cache');
    const run = await pefuse(['--cache', cache, 'run', 'spec.yaml', '--reporter', 'plain'], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(want);
    expect(existsSync(join(cache, 'stages')) ? readdirSync(join(cache, 'stages')) : []).toEqual([]);
  });

  it('Fashion-IQ: a ../ image name in a split file is refused', async () => {
    const root = fashionIqRoot();
    const split = writeJson(root, 'image_splits/split.dress.val.json', [
      'A0',
      'A1',
      'A2',
      'A3',
      '../../../tmp/x',
    ]);
    const dir = tempDir();
    spec(dir, `{ name: fashioniq, split: val, category: dress, root: ${root} }`);
    const r = await pefuse(['validate', 'spec.yaml'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      `${split}: record 4, field "(image name)": the image path ${join(root, 'images', '../../../tmp/x.jpg')} leaves the dataset root ${root};`,
    );
  });

  it('a symlinked images folder is valid: the paths inside it are accepted', async () => {
    const root = fashionIqRoot();
    const elsewhere = tempDir('pefuse-images-');
    symlinkSync(elsewhere, join(root, 'images'));
    const dir = tempDir();
    spec(dir, `{ name: fashioniq, split: val, category: dress, root: ${root} }`);
    const r = await pefuse(['validate', 'spec.yaml'], { cwd: dir });
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
  });
});

describe('datasets[].images', () => {
  it('CIRR: images in another folder run end to end (the dataset stage finds them there)', async () => {
    const root = cirrRoot();
    const images = tempDir('pefuse-cirr-images-');
    for (let i = 0; i < 8; i++) await png(join(images, 'dev', `dev-${i}-0-img0.png`), i * 30);
    const dir = tempDir();
    spec(dir, `{ name: cirr, split: val, root: ${root}, images: ${images} }`);
    const r = await pefuse(['--cache', join(dir, 'cache'), 'run', 'spec.yaml', '--reporter', 'plain'], {
      cwd: dir,
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/done {7}dataset .*: 3 items|done {7}dataset/);
  });

  it('CIRR: images absent from the images folder are reported under that folder', async () => {
    const root = cirrRoot();
    const images = tempDir('pefuse-cirr-images-');
    const dir = tempDir();
    spec(dir, `{ name: cirr, split: val, root: ${root}, images: ${images} }`);
    const r = await pefuse(['--cache', join(dir, 'cache'), 'run', 'spec.yaml', '--reporter', 'plain'], {
      cwd: dir,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(
      `8 images are missing under ${images} (first: ${join(images, 'dev', 'dev-0-0-img0.png')}`,
    );
  });
});
