/**
 * Talking to Slurm through its command-line tools (`sbatch`, `squeue`, `scontrol`, `scancel`), which
 * every cluster has, whatever its version, and read defensively: pipe-separated `-o` format strings
 * and `scontrol -o` key=value lines rather than `--json` (whose layout changes between releases), no
 * `sacct` (accounting is often off), and any field may be missing. Failures are values, never thrown.
 *
 *   submit(script) ─▶ sbatch --parsable FILE ─▶ job id
 *   states(ids)    ─▶ squeue -h -r -j ids -o FMT (live tasks) + scontrol show job -o (recent ones)
 *   cancel(ids)    ─▶ scancel ids
 */
import { spawn } from 'node:child_process';
import { err, ok, type Result } from '../../util/result.js';

/** One array task (or a job without an array) as Slurm reports it. */
export interface TaskState {
  /** The array's job id (the id sbatch printed). */
  jobId: string;
  /** Array task id (= shard index), or null for a pending remainder / a plain job. */
  task: number | null;
  /** Base state, upper case, without qualifiers (`CANCELLED by 0` → `CANCELLED`). */
  state: string;
  reason: string | null;
  node: string | null;
  /** Exit code of the batch script when Slurm says (scontrol); null when unknown. */
  exitCode: number | null;
}

/** States after which a task will not run again by itself (a requeued task goes back to PENDING). */
export const TERMINAL_STATES: ReadonlySet<string> = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'PREEMPTED',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'BOOT_FAIL',
  'DEADLINE',
  'SPECIAL_EXIT',
  'REVOKED',
]);

export interface SlurmClient {
  /** `null` when the Slurm tools are there, else why not (one line for the user). */
  available(): Promise<string | null>;
  submit(scriptFile: string): Promise<Result<string, string>>;
  /** States of every task of these jobs that Slurm still knows; tasks it forgot are absent. */
  states(jobIds: readonly string[]): Promise<Result<TaskState[], string>>;
  cancel(jobIds: readonly string[]): Promise<Result<void, string>>;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command could not be started (not on PATH). */
  missing: boolean;
}

export type CommandRunner = (cmd: string, args: readonly string[]) => Promise<CommandResult>;

/** Runs a Slurm tool with a timeout (a hung controller must not hang the run). */
export function runCommand(timeoutMs = 60_000): CommandRunner {
  return (cmd, args) =>
    new Promise((resolve) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({ code: null, stdout, stderr: stderr || e.message, missing: e.code === 'ENOENT' });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, missing: false });
      });
    });
}

const SQUEUE_FORMAT = '%F|%K|%T|%r|%N';

export function commandClient(run: CommandRunner = runCommand()): SlurmClient {
  return {
    async available() {
      const r = await run('sbatch', ['--version']);
      if (r.missing) return 'sbatch is not on PATH (is this a Slurm submit host? try `module load slurm`)';
      if (r.code !== 0)
        return `Slurm is not usable from this host (no slurm.conf? SLURM_CONF unset?): sbatch --version failed: ${firstLine(r.stderr || r.stdout)}`;
      return null;
    },
    async submit(scriptFile) {
      const r = await run('sbatch', ['--parsable', scriptFile]);
      if (r.missing) return err('sbatch is not on PATH');
      if (r.code !== 0) return err(`sbatch failed: ${firstLine(r.stderr || r.stdout) || `exit ${r.code}`}`);
      const id = parseSbatchParsable(r.stdout);
      return id === null ? err(`sbatch printed no job id: ${firstLine(r.stdout)}`) : ok(id);
    },
    async states(jobIds) {
      if (jobIds.length === 0) return ok([]);
      const ids = [...new Set(jobIds)];
      const q = await run('squeue', ['-h', '-r', '-o', SQUEUE_FORMAT, '-j', ids.join(',')]);
      let live: TaskState[];
      if (q.code === 0) live = parseSqueue(q.stdout);
      else {
        // Some versions refuse a list naming a job they forgot ("Invalid job id specified"): list the
        // whole queue and keep ours.
        const all = await run('squeue', ['-h', '-r', '-o', SQUEUE_FORMAT]);
        if (all.code !== 0)
          return err(`squeue failed: ${firstLine(all.stderr || q.stderr) || `exit ${all.code}`}`);
        live = parseSqueue(all.stdout).filter((t) => ids.includes(t.jobId));
      }
      // scontrol still knows jobs that ended recently (MinJobAge, 300 s by default): exit codes.
      const out = [...live];
      for (const id of ids) {
        const s = await run('scontrol', ['show', 'job', '-o', id]);
        if (s.code !== 0) continue;
        for (const t of parseScontrol(s.stdout)) {
          if (t.jobId !== id) continue;
          const i = out.findIndex((x) => x.jobId === t.jobId && x.task === t.task);
          if (i === -1) out.push(t);
          else out[i] = { ...out[i]!, exitCode: t.exitCode, node: out[i]!.node ?? t.node };
        }
      }
      return ok(out);
    },
    async cancel(jobIds) {
      if (jobIds.length === 0) return ok(undefined);
      const r = await run('scancel', [...new Set(jobIds)]);
      if (r.missing) return err('scancel is not on PATH');
      if (r.code !== 0) return err(`scancel failed: ${firstLine(r.stderr || r.stdout) || `exit ${r.code}`}`);
      return ok(undefined);
    },
  };
}

/** `sbatch --parsable` prints `<id>` or `<id>;<cluster>`. */
export function parseSbatchParsable(stdout: string): string | null {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^\d+(;\S+)?$/.test(l));
  return line === undefined ? null : line.split(';')[0]!;
}

/** Lines of `squeue -h -r -o '%F|%K|%T|%r|%N'`; lines that do not parse are skipped. */
export function parseSqueue(stdout: string): TaskState[] {
  const out: TaskState[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const [job, task, state, reason, node] = line.split('|').map((f) => f.trim());
    if (!job || !/^\d+$/.test(job) || !state) continue;
    for (const t of taskIds(task))
      out.push({
        jobId: job,
        task: t,
        state: baseState(state),
        reason: reason && reason !== 'None' && reason !== '(null)' ? reason : null,
        node: node && node !== '(null)' && node !== '' ? node : null,
        exitCode: null,
      });
  }
  return out;
}

/** Lines of `scontrol show job -o ID` (one line per array task, `Key=Value` separated by spaces). */
export function parseScontrol(stdout: string): TaskState[] {
  const out: TaskState[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.includes('JobId=')) continue;
    const f = new Map<string, string>();
    for (const m of line.matchAll(/(?:^|\s)([A-Za-z][\w:/]*)=(\S*)/g)) if (!f.has(m[1]!)) f.set(m[1]!, m[2]!);
    const jobId = f.get('ArrayJobId') ?? f.get('JobId');
    const state = f.get('JobState');
    if (!jobId || !/^\d+$/.test(jobId) || !state) continue;
    const task = f.get('ArrayTaskId');
    const exit = f.get('ExitCode')?.split(':')[0];
    const node = f.get('NodeList');
    const reason = f.get('Reason');
    for (const t of taskIds(task))
      out.push({
        jobId,
        task: t,
        state: baseState(state),
        reason: reason && reason !== 'None' && reason !== '(null)' ? reason : null,
        node: node && node !== '(null)' ? node : null,
        exitCode: exit !== undefined && /^\d+$/.test(exit) ? Number(exit) : null,
      });
  }
  return out;
}

/**
 * Array task ids as Slurm prints them: `3`, or for tasks not started yet a set such as `0-3`,
 * `[1,4-6%2]` or `0-9:2`. `N/A` or nothing (a plain job) gives [null].
 */
export function taskIds(field: string | undefined): (number | null)[] {
  if (field === undefined) return [null];
  const body = field
    .trim()
    .replace(/^\[|\]$/g, '')
    .split('%')[0]!;
  if (!/^\d/.test(body)) return [null];
  const out: number[] = [];
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) return [null];
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    const step = m[3] === undefined ? 1 : Math.max(1, Number(m[3]));
    if (b - a > 1_000_000) return [null];
    for (let t = a; t <= b; t += step) out.push(t);
  }
  return out.length === 0 ? [null] : out;
}

function baseState(s: string): string {
  return s.trim().split(/[\s+]/)[0]!.toUpperCase();
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}
