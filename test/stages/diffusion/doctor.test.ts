/**
 * The diffusers checks `pefuse doctor` reports (stages/diffusion/doctor.ts): the real worker's
 * `--probe` under Debian's python3 (no torch there), a missing interpreter, and a canned probe from a
 * stand-in interpreter for the all-good path.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffusionDoctor } from '../../../stages/diffusion/doctor.js';
import { tempDir } from '../../helpers/cli.js';

const PY = '/usr/bin/python3';

describe('diffusion doctor checks', () => {
  it.skipIf(!existsSync(PY))(
    'the real probe: python found, torch and diffusers named when missing',
    async () => {
      const d = await diffusionDoctor({ PEFUSE_PYTHON: PY });
      expect(d.python).toBe(PY);
      expect(d.checks[0]).toMatchObject({ name: 'python', status: 'ok' });
      expect(d.probe?.python).toMatch(/^3\./);
      const torch = d.checks.find((c) => c.name === 'torch');
      if (d.probe?.torch === null)
        expect(torch).toEqual({
          name: 'torch',
          status: 'fail',
          message: expect.stringContaining("No module named 'torch'"),
          hint: '"${PEFUSE_PYTHON:-python3}" -m pip install -r requirements-gpu.txt',
        });
      else expect(torch?.status).toBe('ok');
    },
  );

  it('an interpreter that does not exist is one failed check', async () => {
    const d = await diffusionDoctor({ PEFUSE_PYTHON: '/nonexistent/python3' });
    expect(d.probe).toBeNull();
    expect(d.checks).toEqual([
      {
        name: 'python',
        status: 'fail',
        message: '/nonexistent/python3 not found',
        hint: 'set PEFUSE_PYTHON to a Python 3 interpreter (default python3)',
      },
    ]);
  });

  it('everything present: ok checks with versions and GPUs; no CUDA is a warning', async () => {
    const dir = tempDir();
    const fake = (cuda: boolean) => {
      const f = join(dir, `py-${cuda}`);
      const probe = {
        worker: '1',
        python: '3.11.9',
        executable: '/opt/py/bin/python3',
        torch: '2.5.1',
        diffusers: '0.31.0',
        transformers: '4.46.0',
        PIL: '11.0.0',
        numpy: '2.1.0',
        cuda,
        cuda_version: cuda ? '12.4' : null,
        gpus: cuda ? ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3'] : [],
        errors: {},
      };
      writeFileSync(f, `#!/bin/sh\necho '${JSON.stringify(probe)}'\n`);
      chmodSync(f, 0o755);
      return f;
    };
    const good = await diffusionDoctor({ PEFUSE_PYTHON: fake(true) });
    expect(good.checks).toEqual([
      { name: 'python', status: 'ok', message: '3.11.9 (/opt/py/bin/python3)' },
      { name: 'torch', status: 'ok', message: '2.5.1' },
      { name: 'diffusers', status: 'ok', message: '0.31.0' },
      { name: 'cuda', status: 'ok', message: 'CUDA 12.4: NVIDIA H100 80GB HBM3, NVIDIA H100 80GB HBM3' },
    ]);
    const cpu = await diffusionDoctor({ PEFUSE_PYTHON: fake(false) });
    expect(cpu.checks.at(-1)).toEqual({
      name: 'cuda',
      status: 'warn',
      message: 'no CUDA device visible to torch',
      hint: 'diffusion stages then run on the CPU, which is slow (minutes per SDXL image)',
    });
  });
});
