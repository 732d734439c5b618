/**
 * Builds the CLI once before the test run, so end-to-end tests drive the real, freshly compiled
 * `bin/pefuse.js` (never a stale dist/). Type errors do not stop the build here (tsc still emits);
 * `npm test` runs the type check as its own step first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // The spec validators are compiled from the schema first (scripts/compile-schema.mjs), as `npm run
  // build` does; tests import them from source too.
  const g = spawnSync(process.execPath, [`${root}scripts/compile-schema.mjs`], {
    cwd: root,
    encoding: 'utf8',
  });
  if (g.status !== 0) throw new Error(`compiling the spec schema failed:\n${g.stdout}${g.stderr}`);
  const r = spawnSync(
    process.execPath,
    [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (!existsSync(`${root}dist/runner/cli/main.js`)) {
    throw new Error(`building the CLI failed:\n${r.stdout}${r.stderr}`);
  }
  // The one-file bundles the CLI loads at start-up (yaml, DuckDB's API, the validators), as `npm run
  // build` does last.
  const b = spawnSync(process.execPath, [`${root}scripts/bundle-vendor.mjs`], {
    cwd: root,
    encoding: 'utf8',
  });
  if (b.status !== 0) throw new Error(`bundling the vendored packages failed:\n${b.stdout}${b.stderr}`);
}
