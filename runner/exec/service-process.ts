/**
 * Long-lived helper processes a run starts for itself (an MLLM server per GPU): spawned in their own
 * process group (a terminal Ctrl-C reaches only pefuse, which then stops them in order), stdout and
 * stderr appended to a log file (not a pipe: the process keeps logging, and is not SIGPIPE'd, if pefuse
 * dies), and a pid file that outlives a `kill -9` of pefuse:
 *
 *   start ─▶ <pidDir>/<owner pid>-<n>.json  { pid, start time, owner pid + start time, host, command }
 *   stop  ─▶ SIGTERM to the group ─▶ wait ─▶ SIGKILL to the group ─▶ pid file removed
 *   next run ─▶ reapOrphans(pidDir): a file whose owner is gone names a process this host started;
 *               it is killed only when its pid still has the recorded start time (not a reused pid)
 *
 * Linux proves identity through `/proc/<pid>/stat` (start time, process group); elsewhere an orphan is
 * reported, never killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface ServiceProcessOptions {
  file: string;
  args: readonly string[];
  /** Added to pefuse's own environment. */
  env: Record<string, string>;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Where the pid file goes (created when missing). */
  pidDir: string;
  /** What the process is, for messages (`vllm server 1 (GPU 0)`). */
  label: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES). */
  error?: string;
}

/** `<cache>/services/pids`: one file per service process a run started and has not stopped yet. */
export function servicePidDir(cacheRoot: string): string {
  return join(cacheRoot, 'services', 'pids');
}

const live = new Set<ServiceProcess>();
let counter = 0;
const HOST = hostname();

/** Kills every live service process group now (second Ctrl-C, process exit). Synchronous. */
export function killAllServiceProcesses(): void {
  for (const p of live) p.kill();
}

export class ServiceProcess {
  readonly label: string;
  readonly pid: number | undefined;
  readonly exited: Promise<ExitInfo>;
  #exit: ExitInfo | null = null;
  #stopping = false;
  readonly #child: ChildProcess;
  readonly #pidFile: string | null;

  constructor(opts: ServiceProcessOptions) {
    this.label = opts.label;
    mkdirSync(opts.pidDir, { recursive: true });
    const fd = openSync(opts.logFile, 'a');
    let resolveExit!: (e: ExitInfo) => void;
    this.exited = new Promise((r) => {
      resolveExit = r;
    });
    try {
      this.#child = spawn(opts.file, [...opts.args], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...opts.env },
      });
    } finally {
      closeSync(fd);
    }
    this.pid = this.#child.pid;
    const done = (e: ExitInfo) => {
      if (this.#exit) return;
      this.#exit = e;
      live.delete(this);
      if (this.#pidFile) rmSync(this.#pidFile, { force: true });
      resolveExit(e);
    };
    this.#child.on('error', (e: NodeJS.ErrnoException) =>
      done({ code: null, signal: null, error: e.code ?? e.message }),
    );
    this.#child.on('exit', (code, signal) => {
      // The leader is gone; anything it left in its group goes with it.
      if (this.pid !== undefined) signalGroup(this.pid, 'SIGKILL');
      done({ code, signal });
    });
    if (this.pid === undefined) {
      this.#pidFile = null;
      return;
    }
    live.add(this);
    this.#pidFile = join(opts.pidDir, `${process.pid}-${++counter}.json`);
    const record: PidRecord = {
      pid: this.pid,
      start: procStartTime(this.pid),
      owner: { pid: process.pid, start: procStartTime(process.pid) },
      host: HOST,
      command: [opts.file, ...opts.args].join(' '),
      label: opts.label,
      log: opts.logFile,
      started_at: new Date().toISOString(),
    };
    writeFileSync(this.#pidFile, `${JSON.stringify(record)}\n`);
  }

  /** Null while running. */
  get exit(): ExitInfo | null {
    return this.#exit;
  }

  /** True once `stop` or `kill` was called (an exit after that is not a crash). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  async stop(graceMs: number): Promise<ExitInfo> {
    this.#stopping = true;
    if (this.#exit || this.pid === undefined) return this.exited;
    signalGroup(this.pid, 'SIGTERM');
    const timer = setTimeout(() => this.kill(), graceMs);
    const e = await this.exited;
    clearTimeout(timer);
    return e;
  }

  /** SIGKILL to the whole group, now. */
  kill(): void {
    this.#stopping = true;
    if (this.pid !== undefined && !this.#exit) signalGroup(this.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: already gone.
  }
}

interface PidRecord {
  pid: number;
  start: string | null;
  owner: { pid: number; start: string | null };
  host: string;
  command: string;
  label: string;
  log: string;
  started_at: string;
}

/** Field 22 of `/proc/<pid>/stat` (clock ticks since boot): with the pid, a process's identity. Null off Linux. */
export function procStartTime(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

/** A live process's start time and process group; null when gone (or a zombie, which is as good as gone). */
function procStat(pid: number): { start: string; pgrp: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    return { start: rest[19] as string, pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

/** Whether `pid` is alive with the recorded start time (null start: cannot tell, so false). */
function sameProcess(pid: number, start: string | null): boolean {
  if (start === null) return false;
  return procStat(pid)?.start === start;
}

/** Members of process group `pgid` (Linux), leader included. */
function groupMembers(pgid: number): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => procStat(p)?.pgrp === pgid);
}

export interface Reaped {
  label: string;
  pid: number;
  command: string;
  /** killed: it was ours and is now gone (listOrphans: is still running); gone: nothing of it was left; unproven: left alone. */
  outcome: 'killed' | 'gone' | 'unproven';
}

/** A pid file of a pefuse run that is gone, and what is left of what it names. */
interface Orphan {
  file: string;
  rec: PidRecord;
  /** leader: the recorded process itself; members: its group outlived it; none; unproven (not Linux). */
  left: 'leader' | 'members' | 'none' | 'unproven';
  members: number[];
}

/**
 * The pid files in `pidDir` of pefuse runs on this host that are gone (files of live runs — this one, a
 * concurrent one — and of other hosts, on a cache shared over NFS, are not orphans), and what is left
 * running of each.
 */
function orphans(pidDir: string): Orphan[] {
  let names: string[];
  try {
    names = readdirSync(pidDir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: Orphan[] = [];
  for (const name of names) {
    const file = join(pidDir, name);
    let rec: PidRecord;
    try {
      rec = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
    } catch {
      continue; // half-written by a run that died while writing it: nothing provable inside
    }
    if (rec.host !== HOST) continue;
    if (rec.owner.pid === process.pid || sameProcess(rec.owner.pid, rec.owner.start)) continue;
    if (process.platform !== 'linux') {
      out.push({ file, rec, left: 'unproven', members: [] });
      continue;
    }
    // The leader itself, with its recorded start time: the group is the one pefuse created.
    if (sameProcess(rec.pid, rec.start)) {
      out.push({ file, rec, left: 'leader', members: groupMembers(rec.pid) });
      continue;
    }
    // The leader died and its group may live on (a server's engine subprocesses). A pid cannot start a
    // new group while its old group has members, so members of group `pid` that started after the
    // leader are its descendants. A live process with the pid but another start time is not ours.
    const members =
      procStat(rec.pid) === null && rec.start !== null
        ? groupMembers(rec.pid).filter((p) => Number(procStat(p)?.start) >= Number(rec.start))
        : [];
    out.push({ file, rec, left: members.length > 0 ? 'members' : 'none', members });
  }
  return out;
}

/** What a killed pefuse run left running on this host (for `pefuse doctor`); nothing is stopped. */
export function listOrphans(pidDir: string): Reaped[] {
  return orphans(pidDir)
    .filter((o) => o.left !== 'none')
    .map((o) => ({
      label: o.rec.label,
      pid: o.rec.pid,
      command: o.rec.command,
      outcome: o.left === 'unproven' ? 'unproven' : 'killed',
    }));
}

/**
 * Stops what pefuse runs on this host started and could not stop (they were `kill -9`ed): SIGTERM to
 * each orphaned group, SIGKILL after `graceMs`, all at once; their pid files are removed.
 */
export async function reapOrphans(pidDir: string, graceMs = 5_000): Promise<Reaped[]> {
  const found = orphans(pidDir);
  const leaders = found.filter((o) => o.left === 'leader').map((o) => o.rec.pid);
  for (const pid of leaders) signalGroup(pid, 'SIGTERM');
  const t0 = Date.now();
  while (leaders.some((pid) => groupMembers(pid).length > 0) && Date.now() - t0 < graceMs) await pause(100);
  for (const pid of leaders) signalGroup(pid, 'SIGKILL');
  for (const o of found)
    if (o.left === 'members')
      for (const p of o.members)
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
  for (const o of found) if (o.left !== 'unproven') rmSync(o.file, { force: true });
  return found.map((o) => ({
    label: o.rec.label,
    pid: o.rec.pid,
    command: o.rec.command,
    outcome: o.left === 'unproven' ? 'unproven' : o.left === 'none' ? 'gone' : 'killed',
  }));
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
