/**
 * The doctor rows for the transformers MLLM worker's Python (`worker.py --probe` under PEFUSE_PYTHON):
 * parsed from real probes (Debian's python3, with and without the torch/transformers stand-ins of
 * test/fixtures/mllm/stubs) and from a recorded CUDA machine's answer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mllmPythonChecks, parseProbe, probeRows } from '../../../stages/mllm/probe.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const PY = '/usr/bin/python3';
const hasPy = existsSync(PY) && spawnSync(PY, ['-c', 'import numpy, PIL']).status === 0;
const hasTorch = hasPy && spawnSync(PY, ['-c', 'import torch']).status === 0;

describe('mllm python probe rows', () => {
  it('a CUDA machine: every library ok and the GPUs listed', () => {
    const probe = parseProbe(
      JSON.stringify({
        python: '3.11.9',
        executable: '/opt/venv/bin/python',
        torch: '2.5.1+cu124',
        transformers: '4.49.0',
        accelerate: '1.2.1',
        PIL: '11.0.0',
        numpy: '2.1.3',
        cuda: true,
        cuda_version: '12.4',
        gpus: [{ index: 0, name: 'NVIDIA H200', memory_mb: 143_771 }],
        errors: {},
      }),
    );
    expect(probeRows('python', probe)).toEqual([
      { name: 'python', status: 'ok', detail: '3.11.9 (/opt/venv/bin/python)' },
      { name: 'torch', status: 'ok', detail: '2.5.1+cu124' },
      { name: 'transformers', status: 'ok', detail: '4.49.0' },
      { name: 'accelerate', status: 'ok', detail: '1.2.1' },
      { name: 'PIL', status: 'ok', detail: '11.0.0' },
      { name: 'cuda', status: 'ok', detail: 'CUDA 12.4; 0: NVIDIA H200 (140 GiB)' },
    ]);
    expect(parseProbe('not json')).toBeNull();
    expect(parseProbe('{"worker": 1}')).toBeNull();
  });

  it('an interpreter that does not exist is one failed python row naming PEFUSE_PYTHON', async () => {
    const rows = await mllmPythonChecks({ PEFUSE_PYTHON: '/nonexistent/python3' });
    expect(rows).toEqual([
      {
        name: 'python',
        status: 'fail',
        detail:
          '/nonexistent/python3 not found; set PEFUSE_PYTHON to a Python 3 interpreter (default python3)',
      },
    ]);
  });

  it.skipIf(!hasPy || hasTorch)(
    `${PY} without torch: torch and transformers fail with the install line`,
    async () => {
      const rows = await mllmPythonChecks({ PEFUSE_PYTHON: PY });
      const by = Object.fromEntries(rows.map((r) => [r.name, r]));
      expect(by.python?.status).toBe('ok');
      expect(by.python?.detail).toMatch(/^3\.\d+\.\d+ \(\/usr\/bin\/python3\)$/);
      expect(by.torch?.status).toBe('fail');
      expect(by.torch?.detail).toMatch(/No module named 'torch'.*-m pip install -r requirements-gpu\.txt/);
      expect(by.transformers?.status).toBe('fail');
      expect(by.PIL?.status).toBe('ok');
      expect(by.cuda).toBeUndefined();
    },
  );

  it.skipIf(!hasPy || hasTorch)('with torch importable but no CUDA device: cuda warns', async () => {
    const stubs = join(REPO_ROOT, 'test', 'fixtures', 'mllm', 'stubs');
    const prev = process.env.PYTHONPATH;
    process.env.PYTHONPATH = stubs;
    try {
      const rows = await mllmPythonChecks({ PEFUSE_PYTHON: PY });
      const by = Object.fromEntries(rows.map((r) => [r.name, r]));
      expect(by.torch).toEqual({ name: 'torch', status: 'ok', detail: '0.0-stub' });
      expect(by.cuda?.status).toBe('warn');
      expect(by.cuda?.detail).toMatch(/no CUDA device visible to torch/);
    } finally {
      if (prev === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = prev;
    }
  });
});
