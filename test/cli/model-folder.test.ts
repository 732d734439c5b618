/**
 * A spec pointing at a model folder that lacks its towers (an export that stopped, a `--dry-run`
 * folder) is a located error in `validate` and `plan`, naming what is missing; before, it passed and
 * failed at run time.
 */

import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { pefuse, REPO_ROOT, tempDir } from '../helpers/cli.js';
import { writeJson } from '../stages/datasets/fixtures.js';

describe('retrieval.model_dir with missing files', () => {
  it('validate and plan name the missing files at the model_dir line', async () => {
    const dir = tempDir();
    const models = join(dir, 'models', 'b32');
    const dry = await execa(
      'python3',
      [
        join(REPO_ROOT, 'stages/embed/export_onnx.py'),
        '--profile',
        'openclip-vit-b-32',
        '--out',
        models,
        '--dry-run',
      ],
      { reject: false },
    );
    expect(dry.exitCode).toBe(0);
    writeJson(
      dir,
      'spec.yaml',
      `experiment: m
datasets:
  - { name: synthetic }
mode: t2i
mllm: { backend: dummy, model: m }
retrieval: { backend: onnx, model: openclip-vit-b-32, model_dir: models/b32 }
`,
    );
    const want = `spec.yaml:6:66: error: retrieval model folder ${models}: incomplete: text_model.onnx, vision_model.onnx, bpe_simple_vocab_16e6.txt.gz are missing (an export that did not finish, or a --dry-run folder); export the towers with stages/embed/export_onnx.py --profile openclip-vit-b-32 --out ${models}`;
    for (const cmd of ['validate', 'plan']) {
      const r = await pefuse([cmd, 'spec.yaml', '--cache', join(dir, 'cache')], { cwd: dir });
      expect(r.exitCode, cmd).toBe(2);
      expect(r.stderr.split('\n')[0], cmd).toBe(want);
    }
  });
});
