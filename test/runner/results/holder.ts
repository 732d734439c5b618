/**
 * Holds a DuckDB file open in another process (what a running `pefuse run` does while it writes a
 * batch), to test the lock path. Resolves once the child has the file open.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { REPO_ROOT } from '../../helpers/cli.js';

const SCRIPT = `
import('@duckdb/node-api').then(async ({ DuckDBInstance }) => {
  const db = await DuckDBInstance.create(process.argv[1]);
  const c = await db.connect();
  await c.run('CREATE TABLE IF NOT EXISTS held (x INTEGER)');
  process.stdout.write('ready\\n');
  process.stdin.on('end', () => { c.closeSync(); db.closeSync(); process.exit(0); });
  process.stdin.resume();
});`;

export async function holdDb(file: string): Promise<{ child: ChildProcess; release: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', SCRIPT, file], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`db holder exited early (${code})`)));
  });
  return {
    child,
    release: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.on('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}
