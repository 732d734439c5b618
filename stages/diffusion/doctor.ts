/**
 * What `pefuse doctor` (issue 12) reports about the diffusers worker: it runs
 * `$PEFUSE_PYTHON stages/diffusion/worker.py --probe` (one JSON line: Python, torch, diffusers,
 * transformers, PIL and numpy versions, CUDA devices) and turns it into typed checks:
 *
 *   python      fail: the interpreter cannot be started, or the probe printed no JSON
 *   torch       fail: not importable (the worker refuses to start)
 *   diffusers   fail: not importable
 *   cuda        warn: no CUDA device (diffusion runs on the CPU: slow)
 *
 * Never throws; execa is imported lazily (the CLI loads this module at start through the catalog).
 */
import { diffusionWorkerScript, PYTHON_ENV, pythonOf } from './runner.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** `python`, `torch`, `diffusers`, `cuda`. */
  name: string;
  status: CheckStatus;
  /** One line: the version found, or what is wrong. */
  message: string;
  /** What to do about a warn or fail. */
  hint?: string;
}

/** What `worker.py --probe` prints. */
export interface DiffusionProbe {
  worker: string;
  python: string;
  executable: string;
  torch: string | null;
  diffusers: string | null;
  transformers: string | null;
  PIL: string | null;
  numpy: string | null;
  cuda: boolean;
  cuda_version?: string | null;
  gpus: string[];
  errors: Record<string, string>;
}

export interface DiffusionDoctor {
  /** The interpreter that was asked (`PEFUSE_PYTHON`, default python3). */
  python: string;
  checks: DoctorCheck[];
  /** The raw probe, when it ran. */
  probe: DiffusionProbe | null;
}

const INSTALL = `"\${${PYTHON_ENV}:-python3}" -m pip install -r requirements-gpu.txt`;

export async function diffusionDoctor(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<DiffusionDoctor> {
  const python = pythonOf(env);
  const { execa } = await import('execa');
  const r = await execa(python, [diffusionWorkerScript(), '--probe'], {
    reject: false,
    timeout: timeoutMs,
    env: { PYTHONDONTWRITEBYTECODE: '1' },
    stdin: 'ignore',
  });
  let probe: DiffusionProbe | null = null;
  try {
    const last = String(r.stdout).trim().split('\n').pop() ?? '';
    probe = JSON.parse(last) as DiffusionProbe;
  } catch {
    probe = null;
  }
  if (probe === null || r.exitCode !== 0) {
    const why =
      (r as { code?: string }).code === 'ENOENT'
        ? `${python} not found`
        : r.timedOut
          ? `${python} did not answer within ${timeoutMs / 1000} s`
          : `${python} ${r.exitCode === undefined ? 'could not run' : `exited with ${r.exitCode}`}: ${String(r.stderr).trim().split('\n').pop() ?? ''}`;
    return {
      python,
      probe: null,
      checks: [
        {
          name: 'python',
          status: 'fail',
          message: why,
          hint: `set ${PYTHON_ENV} to a Python 3 interpreter (default python3)`,
        },
      ],
    };
  }
  const checks: DoctorCheck[] = [
    { name: 'python', status: 'ok', message: `${probe.python} (${probe.executable})` },
  ];
  for (const lib of ['torch', 'diffusers'] as const) {
    const v = probe[lib];
    checks.push(
      v !== null
        ? { name: lib, status: 'ok', message: v }
        : {
            name: lib,
            status: 'fail',
            message: `not importable by ${python}: ${probe.errors[lib] ?? 'unknown error'}`,
            hint: INSTALL,
          },
    );
  }
  if (probe.torch !== null)
    checks.push(
      probe.cuda
        ? {
            name: 'cuda',
            status: 'ok',
            message: `CUDA ${probe.cuda_version ?? '?'}: ${probe.gpus.join(', ')}`,
          }
        : {
            name: 'cuda',
            status: 'warn',
            message: `no CUDA device visible to torch${probe.errors.cuda ? ` (${probe.errors.cuda})` : ''}`,
            hint: 'diffusion stages then run on the CPU, which is slow (minutes per SDXL image)',
          },
    );
  return { python, checks, probe };
}
