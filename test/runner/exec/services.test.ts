/**
 * Run-scoped services: GPUs gathered from the real ResourceManager (tensor-parallel groups, one
 * gathering at a time), settled stages replayed to a service made later, and the orphan reaper, which
 * kills only a process whose pid still has the start time its pid file recorded.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StageKey } from '../../../runner/contract/stage.js';
import { ResourceManager } from '../../../runner/exec/resources.js';
import { procStartTime, reapOrphans } from '../../../runner/exec/service-process.js';
import { gpuAcquirer, RunServices, type ServiceHost } from '../../../runner/exec/services.js';

const never = new AbortController().signal;
const pids: number[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const p of pids.splice(0))
    try {
      process.kill(-p, 'SIGKILL');
    } catch {
      // gone
    }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function manager(gpus: string[]): ResourceManager {
  return new ResourceManager({ gpus, cpuSlots: 2, httpWindow: 8 });
}

describe('gpuAcquirer', () => {
  it('gathers whole tensor-parallel groups and gives back the rest', async () => {
    const rm = manager(['0', '1', '2']);
    const acquire = gpuAcquirer(rm, ['0', '1', '2']);
    const lease = await acquire({ min: 2, max: 3, step: 2 }, never);
    expect(lease?.gpus).toEqual(['0', '1']);
    // The third GPU went back: a stage gets it at once.
    const g = await rm.acquire(
      { resource: 'gpu', endpoint: null, max: 3, priority: [0], modelKey: 'x' },
      never,
    );
    expect(g?.gpus).toEqual(['2']);
  });

  it('two services that each need two GPUs of two do not deadlock: the second waits for the first', async () => {
    const rm = manager(['0', '1']);
    const vacated: string[][] = [];
    const acquire = gpuAcquirer(rm, ['0', '1'], async (ids) => {
      vacated.push([...ids]);
    });
    const a = acquire({ min: 2, max: 2, step: 2 }, never);
    const b = acquire({ min: 2, max: 2, step: 2 }, never);
    const first = await a;
    expect(first?.gpus).toEqual(['0', '1']);
    let second: string[] | null = null;
    void b.then((l) => {
      second = l?.gpus ?? null;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBeNull();
    first!.release();
    expect((await b)?.gpus.sort()).toEqual(['0', '1']);
    // Idle workers parked on the GPUs are shut down before a server gets them.
    expect(vacated).toHaveLength(2);
  });

  it('without GPUs in the run: an empty lease at once; an aborted wait gives back what it held', async () => {
    expect((await gpuAcquirer(manager([]), [])({ min: 1, max: 1, step: 1 }, never))?.gpus).toEqual([]);
    const rm = manager(['0']);
    const busy = await rm.acquire(
      { resource: 'gpu', endpoint: null, max: 1, priority: [0], modelKey: 'x' },
      never,
    );
    const stop = new AbortController();
    const waiting = gpuAcquirer(rm, ['0'])({ min: 1, max: 1, step: 1 }, stop.signal);
    stop.abort();
    expect(await waiting).toBeNull();
    rm.release(busy!, 'x');
  });
});

describe('RunServices', () => {
  it('tells a service made later which stages already settled', () => {
    const heard: string[] = [];
    const services = new RunServices({} as ServiceHost);
    services.settled('k1' as StageKey);
    services.get('s', () => ({ settled: (k: StageKey) => heard.push(k), close: async () => {} }));
    services.settled('k2' as StageKey);
    expect(heard).toEqual(['k1', 'k2']);
  });
});

describe.skipIf(process.platform !== 'linux')('reapOrphans', () => {
  function pidDir(): string {
    const d = join(tmpdir(), `pefuse-reap-${process.pid}-${Date.now()}`);
    mkdirSync(d, { recursive: true });
    dirs.push(d);
    return d;
  }

  /** A process in its own group, as pefuse starts servers. */
  function sleeper(): number {
    const c = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    c.unref();
    pids.push(c.pid!);
    return c.pid!;
  }

  /** The pid of a process that has exited (an owner that was kill -9'ed). */
  async function deadPid(): Promise<number> {
    const c = spawn('true');
    await new Promise((r) => c.on('exit', r));
    return c.pid!;
  }

  function alive(pid: number): boolean {
    return procStartTime(pid) !== null;
  }

  it('kills the group of a process whose owner is gone, and only one with the recorded start time', async () => {
    const dir = pidDir();
    const owner = { pid: await deadPid(), start: '1' };
    const ours = sleeper();
    const reused = sleeper();
    const rec = (pid: number, start: string | null, host = hostname()) => ({
      pid,
      start,
      owner,
      host,
      command: 'sleep 30',
      label: `server ${pid}`,
      log: '/dev/null',
      started_at: new Date().toISOString(),
    });
    writeFileSync(join(dir, 'a.json'), JSON.stringify(rec(ours, procStartTime(ours))));
    // Same pid, another start time: the pid was reused by a process pefuse did not start.
    writeFileSync(join(dir, 'b.json'), JSON.stringify(rec(reused, '12345')));
    // Another host's server (a cache on NFS): not ours to judge.
    writeFileSync(join(dir, 'c.json'), JSON.stringify(rec(ours, procStartTime(ours), 'elsewhere')));
    // A live owner (a concurrent run): left alone.
    writeFileSync(
      join(dir, 'd.json'),
      JSON.stringify({
        ...rec(ours, procStartTime(ours)),
        owner: { pid: process.pid, start: procStartTime(process.pid) },
      }),
    );
    const reaped = await reapOrphans(dir, 2_000);
    expect(reaped.map((r) => [r.pid, r.outcome]).sort()).toEqual(
      [
        [ours, 'killed'],
        [reused, 'gone'],
      ].sort(),
    );
    expect(alive(ours)).toBe(false);
    expect(alive(reused)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['c.json', 'd.json']);
  });
});
