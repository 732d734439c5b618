/**
 * What `pefuse doctor` reports about the transformers MLLM worker's Python: it runs
 * `$PEFUSE_PYTHON stages/mllm/worker.py --probe` (one JSON line) and turns the answer into check rows
 * of the doctor's shape (`{name, status, detail}`):
 *
 *   python        fail: the interpreter cannot be started, or the probe printed no JSON
 *   torch         fail: not importable (the worker refuses to load a model)
 *   transformers  fail: not importable
 *   accelerate    warn: not importable (loading works, with more host memory)
 *   PIL           fail: not importable (images cannot be read)
 *   cuda          warn: no CUDA device visible (the model runs on the CPU: very slow); ok: the GPUs
 *
 * Never throws; execa is imported lazily (the CLI may load this module at start).
 */
import { PYTHON_ENV, PYTHON_INSTALL_HINT, pythonCommand } from '../../runner/exec/python.js';
import { isJsonObject } from '../../runner/util/json.js';
import { mllmWorkerScript } from './transformers-plan.js';

export type ProbeStatus = 'ok' | 'warn' | 'fail';

/** One doctor row (the shape of `CheckResult` in runner/doctor/checks.ts). */
export interface ProbeRow {
  name: string;
  status: ProbeStatus;
  detail: string;
}

/** What `worker.py --probe` prints. */
export interface MllmProbe {
  python: string;
  executable: string;
  torch: string | null;
  transformers: string | null;
  accelerate: string | null;
  PIL: string | null;
  numpy: string | null;
  cuda: boolean;
  cuda_version: string | null;
  gpus: Array<{ index: number; name: string; memory_mb: number }>;
  errors: Record<string, string>;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Validates the probe's JSON line; null when it is not a probe answer. */
export function parseProbe(line: string): MllmProbe | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isJsonObject(v) || typeof v.python !== 'string') return null;
  const errors: Record<string, string> = {};
  if (isJsonObject(v.errors)) for (const [k, e] of Object.entries(v.errors)) errors[k] = String(e);
  const gpus: MllmProbe['gpus'] = [];
  if (Array.isArray(v.gpus))
    for (const g of v.gpus)
      if (isJsonObject(g))
        gpus.push({
          index: typeof g.index === 'number' ? g.index : gpus.length,
          name: String(g.name ?? '?'),
          memory_mb: typeof g.memory_mb === 'number' ? g.memory_mb : 0,
        });
  return {
    python: v.python,
    executable: str(v.executable) ?? '?',
    torch: str(v.torch),
    transformers: str(v.transformers),
    accelerate: str(v.accelerate),
    PIL: str(v.PIL),
    numpy: str(v.numpy),
    cuda: v.cuda === true,
    cuda_version: str(v.cuda_version),
    gpus,
    errors,
  };
}

/** The rows for a probe answer (or for a probe that did not answer: `why`). */
export function probeRows(python: string, probe: MllmProbe | null, why = ''): ProbeRow[] {
  if (probe === null)
    return [
      {
        name: 'python',
        status: 'fail',
        detail: `${why}; set ${PYTHON_ENV} to a Python 3 interpreter (default python3)`,
      },
    ];
  const rows: ProbeRow[] = [
    { name: 'python', status: 'ok', detail: `${probe.python} (${probe.executable})` },
  ];
  const lib = (name: 'torch' | 'transformers' | 'accelerate' | 'PIL', missing: ProbeStatus, what: string) => {
    const v = probe[name];
    rows.push(
      v !== null
        ? { name, status: 'ok', detail: v }
        : {
            name,
            status: missing,
            detail: `not importable by ${python} (${probe.errors[name] ?? 'unknown error'}): ${what}; ${PYTHON_INSTALL_HINT}`,
          },
    );
  };
  lib('torch', 'fail', 'the transformers MLLM worker cannot load a model');
  lib('transformers', 'fail', 'the transformers MLLM worker cannot load a model');
  lib('accelerate', 'warn', 'models load with more host memory');
  lib('PIL', 'fail', 'images cannot be read');
  if (probe.torch !== null) {
    const gpus = probe.gpus.map((g) => `${g.index}: ${g.name} (${Math.round(g.memory_mb / 1024)} GiB)`);
    rows.push(
      probe.cuda && gpus.length > 0
        ? { name: 'cuda', status: 'ok', detail: `CUDA ${probe.cuda_version ?? '?'}; ${gpus.join(', ')}` }
        : {
            name: 'cuda',
            status: 'warn',
            detail: `no CUDA device visible to torch${probe.errors.cuda ? ` (${probe.errors.cuda})` : ''}: backend transformers would run on the CPU (very slow)`,
          },
    );
  }
  return rows;
}

/** Runs the probe under `$PEFUSE_PYTHON` and returns the rows (never throws). */
export async function mllmPythonChecks(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<ProbeRow[]> {
  const python = pythonCommand(env);
  const { execa } = await import('execa');
  const r = await execa(python, [mllmWorkerScript(), '--probe'], {
    reject: false,
    timeout: timeoutMs,
    env: { PYTHONDONTWRITEBYTECODE: '1' },
    stdin: 'ignore',
  });
  const last =
    String(r.stdout ?? '')
      .trim()
      .split('\n')
      .pop() ?? '';
  const probe = r.exitCode === 0 ? parseProbe(last) : null;
  if (probe !== null) return probeRows(python, probe);
  const stderrLast =
    String(r.stderr ?? '')
      .trim()
      .split('\n')
      .pop() ?? '';
  const why =
    (r as { code?: string }).code === 'ENOENT'
      ? `${python} not found`
      : r.timedOut
        ? `${python} did not answer within ${timeoutMs / 1000} s`
        : `${python} ${r.exitCode === undefined ? 'could not run' : `exited with code ${r.exitCode}`}${stderrLast ? `: ${stderrLast}` : ''}`;
  return probeRows(python, null, why);
}

/** The doctor entry (the shape of `DoctorCheck` in runner/doctor/checks.ts): append it to the list. */
export const mllmPythonDoctorCheck = {
  group: 'python (mllm backend transformers)',
  run: (): Promise<ProbeRow[]> => mllmPythonChecks(),
};
