#!/usr/bin/env node
// Entry point: the compiled CLI (built by `npm run build`, run on install by `prepare`).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `pefuse [--cache DIR] [--db FILE] --version` needs nothing but package.json: answer before loading
// the CLI (everything else, including mistakes, goes to the CLI itself).
const args = process.argv.slice(2);
let rest = args;
while (rest.length >= 2 && (rest[0] === '--cache' || rest[0] === '--db')) rest = rest.slice(2);
if (rest.length === 1 && (rest[0] === '--version' || rest[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}

const entry = new URL('../dist/runner/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('pefuse: the CLI is not built yet; run `npm run build` (or `npm ci`) first.\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(args);
