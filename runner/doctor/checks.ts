/**
 * `pefuse doctor`: a list of independent checks, each a plain entry (name + run), so later issues add
 * theirs (Python, torch, diffusers, CUDA) by appending to a list. A check loads what it probes itself
 * (native modules are imported inside `run`), so one broken module cannot stop the others from
 * reporting.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** What was checked, e.g. `node`, `sharp`, `mllm http://localhost:8000/v1`. */
  name: string;
  status: CheckStatus;
  /** One line: the version found, or what is wrong and what to do. */
  detail: string;
}

export interface DoctorCheck {
  /** The group it is listed under: `runtime`, `native modules`, `servers`, … */
  group: string;
  run(): Promise<CheckResult[]>;
}

const MIN_NODE: [number, number] = [20, 19];

export const nodeCheck: DoctorCheck = {
  group: 'runtime',
  async run() {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const okVersion = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
    return [
      {
        name: 'node',
        status: okVersion ? 'ok' : 'fail',
        detail: okVersion
          ? `${process.versions.node} (${process.platform}-${process.arch})`
          : `${process.versions.node}: pefuse needs Node ${MIN_NODE.join('.')} or newer`,
      },
    ];
  },
};

/** A native module probed by importing it and reading a version; `optional` ones only warn. */
function moduleCheck(
  name: string,
  load: () => Promise<string>,
  opts: { optional?: string } = {},
): DoctorCheck {
  return {
    group: 'native modules',
    async run() {
      try {
        return [{ name, status: 'ok', detail: await load() }];
      } catch (e) {
        const why = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
        return [
          {
            name,
            status: opts.optional ? 'warn' : 'fail',
            detail: `cannot be loaded (${why})${opts.optional ? `; ${opts.optional}` : '; reinstall with `npm ci`'}`,
          },
        ];
      }
    },
  };
}

export const NATIVE_MODULE_CHECKS: readonly DoctorCheck[] = [
  moduleCheck('sharp', async () => {
    const sharp = (await import('sharp')).default;
    return `${sharp.versions.sharp ?? '?'} (libvips ${sharp.versions.vips})`;
  }),
  moduleCheck('@duckdb/node-api', async () => {
    const duck = await import('@duckdb/node-api');
    return `DuckDB ${duck.version()}`;
  }),
  moduleCheck(
    'onnxruntime-node',
    async () => {
      const ort = await import('onnxruntime-node');
      return `${ort.env.versions.node ?? ort.env.versions.common ?? '?'}`;
    },
    {
      optional:
        'needed by backend onnx (retrieval); install it with `npm ci` without ONNXRUNTIME_NODE_INSTALL=skip',
    },
  ),
];

/** The checks every `pefuse doctor` runs, in order; spec-dependent ones are added by the command. */
export const BASE_CHECKS: readonly DoctorCheck[] = [nodeCheck, ...NATIVE_MODULE_CHECKS];

/** Runs every check (concurrently), results in list order. */
export async function runChecks(
  checks: readonly DoctorCheck[],
): Promise<Array<CheckResult & { group: string }>> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        return (await c.run()).map((r) => ({ ...r, group: c.group }));
      } catch (e) {
        return [
          {
            group: c.group,
            name: c.group,
            status: 'fail' as const,
            detail: `the check itself failed: ${String(e)}`,
          },
        ];
      }
    }),
  );
  return results.flat();
}
