/**
 * A real single-node Slurm cluster on localhost for tests (recipe: ../shared/docs/slurm-localhost.md),
 * self-contained in a temp folder: its own munge key and socket, its own slurm.conf (free ports, state,
 * spool, logs and pid files in the folder), so it neither needs nor touches /etc/slurm or a cluster
 * another test (or another checkout) runs. The daemons run in the foreground as children of the test
 * process and are stopped by their pids; `SLURM_CONF` in `cluster.env` points the Slurm tools (and the
 * jobs, which inherit the submitting environment) at this cluster.
 *
 * Needs Debian's `slurm-wlm` and `munge` and root (slurmd starts jobs as their user). Tests call
 * `slurmSkipReason()` first and skip with its reason when something is missing.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './cli.js';

const BINARIES = [
  'munged',
  'munge',
  'slurmctld',
  'slurmd',
  'sbatch',
  'squeue',
  'scontrol',
  'scancel',
  'sinfo',
];

function onPath(bin: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin'];
  return dirs.some((d) => d !== '' && existsSync(join(d, bin)));
}

/** Why the Slurm tests cannot run here, or null when they can. */
export function slurmSkipReason(): string | null {
  const missing = BINARIES.filter((b) => !onPath(b));
  if (missing.length > 0)
    return `skipped: Slurm is not installed (${missing.join(', ')} not found; Debian: apt-get install slurm-wlm munge)`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'skipped: starting a localhost Slurm cluster needs root (slurmd runs jobs as their user)';
  return null;
}

export interface SlurmCluster {
  dir: string;
  /** Environment for anything that talks to this cluster (`SLURM_CONF`, PATH with /usr/sbin). */
  env: Record<string, string>;
  /** The controller's and the node daemon's logs (for assertion messages). */
  logs(): string;
  /** Stops slurmd, slurmctld and munged by their pids; waits for them to exit. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  timeoutMs: number,
  test: () => boolean,
  logs: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (test()) return;
    await sleep(250);
  }
  throw new Error(`localhost Slurm: timed out waiting for ${what}\n${logs()}`);
}

export async function startSlurmCluster(opts: { cpus?: number } = {}): Promise<SlurmCluster> {
  const dir = tempDir('pefuse-slurm-');
  chmodSync(dir, 0o755);
  const munge = join(dir, 'munge');
  for (const d of [munge, join(dir, 'state'), join(dir, 'spool'), join(dir, 'log')])
    mkdirSync(d, { recursive: true });
  chmodSync(munge, 0o755);
  const key = join(munge, 'munge.key');
  writeFileSync(key, execFileSync('head', ['-c', '1024', '/dev/urandom']));
  chmodSync(key, 0o400);
  const socket = join(munge, 'munge.socket');
  const host = hostname().split('.')[0]!;
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      '# pefuse test cluster (test/helpers/slurm-cluster.ts): single node, no cgroups, no accounting',
      'ClusterName=pefusetest',
      `SlurmctldHost=${host}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `AuthInfo=socket=${socket}`,
      'CredType=cred/munge',
      'MpiDefault=none',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SwitchType=switch/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'SchedulerType=sched/backfill',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'SlurmdParameters=config_overrides',
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      'SlurmctldDebug=info',
      'SlurmdDebug=info',
      `NodeName=${host} CPUs=${opts.cpus ?? 2} RealMemory=1000 State=UNKNOWN`,
      'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env: Record<string, string> = {
    SLURM_CONF: conf,
    PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`,
  };
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[]) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', () => undefined);
    children.push(child);
    return () => stderr;
  };
  const logs = () =>
    ['slurmctld.log', 'slurmd.log']
      .map((f) => join(dir, 'log', f))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-30).join('\n')}`)
      .join('\n');
  const stop = async () => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
      const exited = new Promise((r) => c.once('exit', r));
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {
        continue;
      }
      await Promise.race([exited, sleep(10_000)]);
      if (c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  };
  try {
    const mungeErr = start('munged', [
      '-F',
      '-f',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--log-file=${join(munge, 'munged.log')}`,
      `--pid-file=${join(munge, 'munged.pid')}`,
      `--seed-file=${join(munge, 'munged.seed')}`,
    ]);
    await until(
      'munged',
      20_000,
      () => existsSync(socket),
      () => mungeErr(),
    );
    start('slurmctld', ['-D', '-f', conf]);
    const ping = () => {
      try {
        return execFileSync('scontrol', ['ping'], {
          env: { ...process.env, ...env },
          encoding: 'utf8',
        }).includes('UP');
      } catch {
        return false;
      }
    };
    await until('slurmctld', 30_000, ping, logs);
    start('slurmd', ['-D', '-f', conf, '-N', host]);
    const idle = () => {
      try {
        const out = execFileSync('sinfo', ['-h', '-o', '%t'], {
          env: { ...process.env, ...env },
          encoding: 'utf8',
        });
        return out.trim().split('\n').includes('idle');
      } catch {
        return false;
      }
    };
    await until('the node to be idle', 60_000, idle, logs);
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, env, logs, stop };
}
