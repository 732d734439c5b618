/**
 * Which heavy modules each command loads: `--version`, `--help`, `validate`, `plan`, `status` (no
 * database yet) and `gc` load none of onnxruntime-node, sharp, DuckDB or execa; `status` on a database
 * loads DuckDB and nothing else heavy. The CLI runs in a child process with a preloaded probe
 * (test/fixtures/load-probe) that records every module Node's loader loads and every native addon
 * mapped into the process at exit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { openResults } from '../../runner/results/db.js';
import { BIN, REPO_ROOT, tempDir } from '../helpers/cli.js';
import { recordDemo } from '../runner/results/fixtures.js';

const PROBE = fileURLToPath(new URL('../fixtures/load-probe/probe.mjs', import.meta.url));
const HEAVY = {
  'onnxruntime-node': /node_modules\/onnxruntime-node\/|onnxruntime_binding\.node/,
  sharp: /node_modules\/sharp\/|node_modules\/@img\/sharp-/,
  duckdb: /node_modules\/@duckdb\//,
  execa: /node_modules\/execa\//,
} as const;
type Heavy = keyof typeof HEAVY;

/** Runs `node --import probe <args>` and returns which heavy modules it loaded. */
async function heavyLoaded(args: readonly string[], cwd = REPO_ROOT): Promise<Heavy[]> {
  const out = join(tempDir('pefuse-load-'), 'loaded.txt');
  const r = await execa(process.execPath, ['--import', PROBE, ...args], {
    cwd,
    env: { PEFUSE_LOAD_PROBE: out, NO_COLOR: '1' },
    reject: false,
    stdin: 'ignore',
  });
  expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBeLessThanOrEqual(2);
  const loaded = readFileSync(out, 'utf8');
  return (Object.keys(HEAVY) as Heavy[]).filter((h) => HEAVY[h].test(loaded));
}

const cli = (...args: string[]) => [BIN, ...args];

describe('heavy modules load only where a command needs them', () => {
  it('the probe sees a native addon and an ESM package when they are loaded', async () => {
    const loaded = await heavyLoaded(['-e', "await import('sharp'); await import('execa');"]);
    expect(loaded).toEqual(['sharp', 'execa']);
  });

  it('--version, --help, validate, plan, status without a database and gc load none of them', async () => {
    const cache = tempDir('pefuse-load-cache-');
    const demo = join(REPO_ROOT, 'experiments', 'demo.yaml');
    const commands = [
      cli('--version'),
      cli('--help'),
      cli('validate', demo),
      cli('--cache', cache, 'plan', demo),
      cli('--cache', cache, 'status'),
      cli('--cache', cache, 'gc', '--dry-run', demo),
    ];
    for (const args of commands) {
      expect({ command: args.slice(1).join(' '), loaded: await heavyLoaded(args) }).toEqual({
        command: args.slice(1).join(' '),
        loaded: [],
      });
    }
  });

  it('status on a results database loads DuckDB, and nothing else heavy', async () => {
    const cache = tempDir('pefuse-load-status-');
    const db = openResults(join(cache, 'results.duckdb'));
    await recordDemo(db);
    await db.close();
    expect(await heavyLoaded(cli('--cache', cache, 'status'))).toEqual(['duckdb']);
  });
});

describe('plan loads only what planning uses', () => {
  it("not the other commands, the executor, worker pools, doctor checks or benchmark loaders the demo doesn't use", async () => {
    const out = join(tempDir('pefuse-load-'), 'loaded.txt');
    const cache = tempDir('pefuse-load-plan-');
    const r = await execa(
      process.execPath,
      ['--import', PROBE, BIN, '--cache', cache, 'plan', join(REPO_ROOT, 'experiments', 'demo.yaml')],
      { env: { PEFUSE_LOAD_PROBE: out }, reject: false, stdin: 'ignore' },
    );
    expect(r.exitCode).toBe(0);
    const loaded = readFileSync(out, 'utf8');
    expect(loaded).toMatch(/dist\/runner\/cli\/commands\/plan\.js/);
    const unexpected = [
      /dist\/runner\/cli\/commands\/(run|report|gc|doctor|status|explain|evaluate|export|tokenize|validate)\.js/,
      /dist\/runner\/exec\/(executor|worker|worker-pool|worker-stage)\.js/,
      // Other executors (subprocess shards, Slurm) and MLLM server management (not its plan-time
      // settings, server-config.js): loaded where used.
      /dist\/runner\/exec\/(executors|slurm)\//,
      /dist\/stages\/mllm\/(servers|server-launch)\.js/,
      /dist\/runner\/doctor\//,
      /dist\/stages\/datasets\/(cirr|circo|fashioniq|genecis)\.js/,
      /dist\/stages\/(mllm\/client|diffusion\/runner|embed\/model\/identity)\.js/,
      /node:child_process|node:readline|node:worker_threads/,
    ].filter((re) => re.test(loaded));
    expect(unexpected).toEqual([]);
  });
});

describe('--version', () => {
  it('prints the package version, also after the global options, without loading the CLI', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['-V'], ['--cache', tempDir(), '--db', 'x.duckdb', '--version']]) {
      const out = join(tempDir('pefuse-load-'), 'loaded.txt');
      const r = await execa(process.execPath, ['--import', PROBE, BIN, ...args], {
        env: { PEFUSE_LOAD_PROBE: out },
        reject: false,
        stdin: 'ignore',
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(pkg.version);
      expect(readFileSync(out, 'utf8')).not.toMatch(/dist\/runner\/cli\/main\.js|node_modules\/commander\//);
    }
  });
});
