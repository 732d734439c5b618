/**
 * Test rig for the executor (wireit's test-rig model): a temp directory with a control file for the
 * fake workers, a scenario for the driver (test/fixtures/workers/driver.mjs, which runs the compiled
 * executor on a hand-built plan), and helpers to read what the workers logged.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT, tempDir } from '../../helpers/cli.js';

export const DRIVER = join(REPO_ROOT, 'test', 'fixtures', 'workers', 'driver.mjs');
export const FAKE_WORKER = join(REPO_ROOT, 'test', 'fixtures', 'workers', 'fake-worker.mjs');

export interface StageSpec {
  id: string;
  kind: string;
  resource?: 'gpu' | 'cpu' | 'http' | 'none';
  items?: string[] | number;
  inputs?: Record<string, string>;
  points?: number[];
  run?: false;
  /** Runs in the driver's process (no worker), like an in-process ONNX session on the GPU. */
  inProcess?: boolean;
  /** Same worker command as the other `shared` stages (so workers can be reused across them). */
  shared?: boolean;
}

export interface Scenario {
  gpus?: string[];
  cpuSlots?: number;
  retries?: number;
  backoffMs?: number;
  failFast?: boolean;
  reporter?: 'plain' | 'json' | 'tty';
  timeouts?: { readyMs?: number; itemMs?: number; heartbeatMs?: number };
  window?: number;
  stages: StageSpec[];
}

export interface Control {
  ready?: string;
  items?: Record<string, string>;
  delayMs?: number;
  gate?: string;
  heartbeatMs?: number;
}

export interface WorkerLogLine {
  ev: 'start' | 'item' | 'done' | 'exit' | 'in-process';
  pid: number;
  gpu: string | null;
  stage: string;
  id?: string;
}

export class Rig {
  readonly dir = tempDir('pefuse-exec-');
  readonly cache = join(this.dir, 'cache');
  readonly gate = join(this.dir, 'gate');
  readonly state = join(this.dir, 'state');
  readonly log = join(this.dir, 'workers.jsonl');
  readonly #controlFile = join(this.dir, 'control.json');
  readonly #scenarioFile = join(this.dir, 'scenario.json');

  constructor(scenario: Scenario, control: Control = {}) {
    mkdirSync(this.gate);
    mkdirSync(this.state);
    this.setControl(control);
    this.setScenario(scenario);
  }

  setControl(c: Control): void {
    writeFileSync(this.#controlFile, JSON.stringify({ state: this.state, log: this.log, ...c }));
  }

  setScenario(s: Scenario): void {
    writeFileSync(
      this.#scenarioFile,
      JSON.stringify({ cache: this.cache, control: this.#controlFile, backoffMs: 5, reporter: 'json', ...s }),
    );
  }

  /** Lets item `id` finish (with `gate` set in the control). */
  open(...ids: string[]): void {
    for (const id of ids) writeFileSync(join(this.gate, id), '');
  }

  /** Starts the driver; the caller awaits or kills it. */
  start(): Running {
    return new Running(spawnDriver(this.#scenarioFile));
  }

  async run(): Promise<{ exitCode: number; stdout: string; stderr: string; events: Ev[] }> {
    const r = await spawnDriver(this.#scenarioFile);
    const stdout = String(r.stdout);
    return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr), events: parseEvents(stdout) };
  }

  workerLog(): WorkerLogLine[] {
    if (!existsSync(this.log)) return [];
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as WorkerLogLine);
  }
}

/** A JSON-reporter event (loosely typed for assertions). */
// biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary fields
export type Ev = Record<string, any>;

export function parseEvents(stdout: string): Ev[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev);
}

function spawnDriver(scenarioFile: string) {
  return execa(process.execPath, [DRIVER, scenarioFile], { reject: false, stdin: 'ignore' });
}

/** A running driver whose stdout events can be awaited while it runs. */
export class Running {
  readonly child: ReturnType<typeof spawnDriver>;
  #text = '';
  #waiters: (() => void)[] = [];
  #exit: string | null = null;
  constructor(child: ReturnType<typeof spawnDriver>) {
    this.child = child;
    child.stdout?.on('data', (c: Buffer) => {
      this.#text += c.toString();
      for (const w of this.#waiters) w();
    });
    void child.then((r) => {
      this.#exit = `the driver exited (${r.exitCode ?? r.signal}) first; stderr:\n${String(r.stderr)}`;
      for (const w of this.#waiters) w();
    });
  }
  get events(): Ev[] {
    return parseEvents(this.#text);
  }
  /** Waits until `pred` holds on the events printed so far. */
  waitFor(pred: (events: Ev[]) => boolean, what: string, timeoutMs = 30_000): Promise<Ev[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this.events)) {
          if (this.#exit === null) return;
          clearTimeout(timer);
          reject(new Error(`waiting for ${what}: ${this.#exit}`));
          return;
        }
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve(this.events);
      };
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; output so far:\n${this.#text}`)),
        timeoutMs,
      );
      this.#waiters.push(check);
      check();
    });
  }
  async finished(): Promise<{ exitCode: number; signal: string | undefined; stderr: string; events: Ev[] }> {
    const r = await this.child;
    return { exitCode: r.exitCode ?? -1, signal: r.signal, stderr: String(r.stderr), events: this.events };
  }
}

/** Polls until `pred` is true (process exits and the like); throws after `timeoutMs`. */
export async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The most workers alive at once, per the workers' own start/exit log lines. */
export function peakLiveWorkers(log: WorkerLogLine[]): number {
  let live = 0;
  let peak = 0;
  for (const l of log) {
    if (l.ev === 'start') peak = Math.max(peak, ++live);
    if (l.ev === 'exit') live--;
  }
  return peak;
}
