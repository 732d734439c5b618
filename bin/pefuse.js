#!/usr/bin/env node
// Entry point: the compiled CLI (built by `npm run build`, run on install by `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/runner/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('pefuse: the CLI is not built yet; run `npm run build` (or `npm ci`) first.\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
