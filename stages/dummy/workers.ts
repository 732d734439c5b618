/**
 * Where the dummy worker programs are, for the worker-backed stage runner: `node <script>`. From the
 * compiled tree (dist/stages/dummy/*.js) the script sits beside this module; when this module runs from
 * source (tsx, vitest) the compiled copy under dist/ is used (`npm run build` makes it).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type DummyWorkerName = 'mllm-worker' | 'diffusion-worker';

/** Absolute path of a dummy worker's compiled script (it may not exist before `npm run build`). */
export function dummyWorkerScript(name: DummyWorkerName): string {
  const beside = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL(`../../dist/stages/dummy/${name}.js`, import.meta.url));
}

/** The command line that starts a dummy worker: the current Node binary and the script. */
export function dummyWorkerCommand(name: DummyWorkerName): { command: string; args: string[] } {
  return { command: process.execPath, args: [dummyWorkerScript(name)] };
}

/** The same as a `WorkerCommand` (runner/exec/worker.ts) for `WorkerStageOptions.command`. */
export function dummyWorkerSpawn(name: DummyWorkerName): { file: string; args: string[] } {
  return { file: process.execPath, args: [dummyWorkerScript(name)] };
}
