import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa, execaSync } from 'execa';
import { describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../../../stages/embed/model/config.js';
import { PROFILES } from '../../../stages/embed/model/profiles.js';
import { REPO_ROOT, tempDir } from '../../helpers/cli.js';

const EXPORT = join(REPO_ROOT, 'stages', 'embed', 'export_onnx.py');
const py = (args: string[]) => execa('python3', args, { reject: false, cwd: REPO_ROOT });

describe('stages/embed/export_onnx.py (standard-library parts; the export itself needs torch and weights)', () => {
  it('lists exactly the built-in profiles, with the same context length and width as the TS profiles', async () => {
    const list = await py([EXPORT, '--list']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout.split('\n')).toEqual(Object.keys(PROFILES).sort());
    const table = await py([
      '-c',
      `import json,sys; sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'stages', 'embed'))}); import export_onnx as e; print(json.dumps(e.PROFILES))`,
    ]);
    const pyProfiles = JSON.parse(table.stdout) as Record<
      string,
      { context: number; dim: number; image: number }
    >;
    for (const [name, p] of Object.entries(PROFILES)) {
      expect([pyProfiles[name]!.context, pyProfiles[name]!.dim, pyProfiles[name]!.image], name).toEqual([
        p.context_length,
        p.embed_dim,
        p.image_size,
      ]);
    }
  });

  it('--dry-run writes the folder layout pefuse reads and prints the plan', async () => {
    const out = join(tempDir('pefuse-export-'), 'l14');
    const r = await py([EXPORT, '--profile', 'openclip-vit-l-14', '--out', out, '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'profile openclip-vit-l-14 from open_clip ViT-L-14 / laion2b_s32b_b82k',
      `${out}/text_model.onnx: input_ids int64 [batch, 77] -> text_embeds float32 [batch, 768]`,
      `${out}/vision_model.onnx: pixel_values float32 [batch, 3, 224, 224] -> image_embeds float32 [batch, 768]`,
      'tokenizer: bpe_simple_vocab_16e6.txt.gz',
      'dry run: wrote pefuse-model.json only',
    ]);
    expect(readdirSync(out)).toEqual(['pefuse-model.json']);
    expect(JSON.parse(readFileSync(join(out, 'pefuse-model.json'), 'utf8'))).toEqual({
      format: 'pefuse-embed-model/1',
      profile: 'openclip-vit-l-14',
    });
    // The written pefuse-model.json resolves to the profile (mean/std 0.5 for this checkpoint).
    const cfg = await resolveModelConfig({ dir: out, profile: null });
    if (!cfg.ok) throw new Error(cfg.error);
    expect(cfg.value.mean).toEqual([0.5, 0.5, 0.5]);
  });

  it('rejects an unknown profile and a missing --out with exit status 2', async () => {
    const bad = await py([EXPORT, '--profile', 'vit-huge', '--out', 'x']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/error: argument --profile: invalid choice: 'vit-huge'/);
    const noOut = await py([EXPORT, '--profile', 'clip-vit-b-32']);
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toMatch(/error: --profile and --out are required \(or --list\)$/m);
  });

  it('parity_check.compare gives cosine and max |diff| against the documented tolerance', async () => {
    const r = await py([
      '-c',
      `import sys; sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'stages', 'embed'))}); import parity_check as p
c, d = p.compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0005]); print(round(c, 9), round(d, 6), p.within(c, d))
c, d = p.compare([1.0, 0.0], [0.0, 1.0]); print(c, d, p.within(c, d))`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['0.999999997 0.0005 True', '0.0 1.0 False']);
  });
});

/** Debian's interpreter: it has numpy and PIL but no torch (the no-torch path a new user hits). */
const DEBIAN_PY = '/usr/bin/python3';
const noTorch = (() => {
  if (!existsSync(DEBIAN_PY)) return `${DEBIAN_PY} is absent`;
  const r = execaSync(DEBIAN_PY, ['-c', 'import importlib.util as u; print(u.find_spec("torch") is None)'], {
    reject: false,
  });
  return r.stdout.trim() === 'True' ? null : `${DEBIAN_PY} has torch installed`;
})();

describe.skipIf(noTorch !== null)(
  `export_onnx.py without torch${noTorch === null ? '' : ` (skipped: ${noTorch})`}`,
  () => {
    it('says which packages are missing, exits 1 without a traceback, and writes nothing', async () => {
      const parent = tempDir('pefuse-export-');
      const out = join(parent, 'b32');
      const r = await execa(DEBIAN_PY, [EXPORT, '--profile', 'openclip-vit-b-32', '--out', out], {
        reject: false,
      });
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([
        1,
        '',
        `export_onnx.py: cannot export openclip-vit-b-32: missing Python package(s) torch, onnx, open_clip (pip install torch onnx open_clip_torch); nothing was written to ${out}`,
      ]);
      expect(readdirSync(parent)).toEqual([]);
    });

    it('a failed export leaves no folder behind (written to a temp folder, renamed when complete)', async () => {
      // A fake torch/onnx/open_clip that import, then fail inside the export: the error is one line.
      const fakes = tempDir('pefuse-fake-torch-');
      for (const m of ['torch', 'onnx', 'open_clip']) {
        mkdirSync(join(fakes, m));
        writeFileSync(
          join(fakes, m, '__init__.py'),
          m === 'torch' ? 'raise ImportError("this torch is a stub")\n' : '',
        );
      }
      const parent = tempDir('pefuse-export-');
      const out = join(parent, 'b32');
      const r = await execa(DEBIAN_PY, [EXPORT, '--profile', 'openclip-vit-b-32', '--out', out], {
        reject: false,
        env: { PYTHONPATH: fakes },
      });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toBe(
        `export_onnx.py: export of openclip-vit-b-32 failed: ImportError: this torch is a stub; nothing was written to ${out}`,
      );
      expect(readdirSync(parent)).toEqual([]);
      expect(dirname(out)).toBe(parent);
    });
  },
);
