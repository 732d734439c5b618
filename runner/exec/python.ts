/**
 * The Python interpreter that runs pefuse's Python workers (the transformers MLLM worker, the diffusers
 * worker) and where their `.py` files are. One definition for every Python worker:
 *
 *   PEFUSE_PYTHON  the interpreter (a name looked up on PATH, or a path); default `python3`
 *
 * `tsc` does not copy `.py` files into `dist/`, so scripts are found from the package root (the folder
 * with pefuse's package.json), the same from the sources and from the compiled CLI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable naming the interpreter. */
export const PYTHON_ENV = 'PEFUSE_PYTHON';

/** The interpreter to run Python workers with: `$PEFUSE_PYTHON`, else `python3`. */
export function pythonCommand(env: NodeJS.ProcessEnv = process.env): string {
  const v = env[PYTHON_ENV];
  return v !== undefined && v.trim() !== '' ? v.trim() : 'python3';
}

/**
 * Why `python` cannot be started (a path that does not exist, a name not on PATH), or null. Checked
 * before a worker starts, so the message names PEFUSE_PYTHON instead of a bare ENOENT.
 */
export function pythonProblem(python: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const from = env[PYTHON_ENV] ? `${PYTHON_ENV}=${python}` : `${python} (the default; set ${PYTHON_ENV})`;
  if (python.includes('/')) {
    const abs = isAbsolute(python) ? python : resolve(python);
    return existsSync(abs) ? null : `the Python interpreter ${from} does not exist`;
  }
  for (const dir of (env.PATH ?? '').split(delimiter))
    if (dir !== '' && existsSync(join(dir, python))) return null;
  return `the Python interpreter ${from} is not on PATH`;
}

/** How to install what the Python workers need, for messages. */
export const PYTHON_INSTALL_HINT = `"\${${PYTHON_ENV}:-python3}" -m pip install -r requirements-gpu.txt`;

let root: string | undefined;

/** The package root: the nearest folder above this module whose package.json names `pefuse`. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'pefuse') {
          root = dir;
          return dir;
        }
      } catch {
        // Not ours: keep walking up.
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('the pefuse package root (package.json) was not found above runner/exec');
    dir = up;
  }
}

/** Absolute path of a file shipped in the package, e.g. `packageFile('stages', 'mllm', 'worker.py')`. */
export function packageFile(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
