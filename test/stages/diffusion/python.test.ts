/**
 * Runs every Python worker test (test/python, standard-library unittest) with Debian's interpreter,
 * which has numpy and PIL (`.ci/run` installs python3-numpy and python3-pil): the diffusers worker
 * (stages/diffusion/worker.py with test/fixtures/diffusion/fake_pipeline.py) and the transformers MLLM
 * worker (stages/mllm/worker.py with test/fixtures/mllm/fake_mllm.py and the torch stand-ins).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';

const PY = '/usr/bin/python3';

function skipReason(): string | null {
  if (!existsSync(PY)) return `${PY} is absent (the Debian python3 package; .ci/run installs it)`;
  const r = spawnSync(PY, ['-c', 'import numpy, PIL'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PY} lacks numpy or PIL (apt-get install python3-numpy python3-pil)`;
  return null;
}

const reason = skipReason();

describe('Python workers (diffusers, transformers MLLM), Python tests with fakes', () => {
  it.skipIf(reason !== null)(`pass under ${PY}${reason ? ` (skipped: ${reason})` : ''}`, () => {
    const r = spawnSync(PY, ['-m', 'unittest', 'discover', '-s', 'test/python', '-v'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    // unittest reports on stderr; show it whole when something failed.
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\nOK( \(skipped=\d+\))?\n/);
    expect(r.stderr).toMatch(/Ran \d+ tests/);
  });
});
