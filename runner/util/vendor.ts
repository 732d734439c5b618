/**
 * The CommonJS packages the CLI loads at start-up, from their one-file bundles in `dist/vendor/`
 * (esbuild's, made by scripts/bundle-vendor.mjs in `npm run build`) when they exist, else from node_modules
 * (TypeScript sources, tests): the same code either way, one file to read and compile instead of
 * dozens. Loaded on first use.
 *
 * A bundle runs with V8's code cache (`<bundle>.v8cache`, made by the build after exercising the
 * bundle, e.g. parsing the shipped specs): the functions it used start compiled, which halves what
 * loading `yaml` and parsing a spec cost a fresh process. A cache V8 rejects (another Node version)
 * is ignored: the bundle then compiles as any script.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

type YamlModule = typeof import('yaml');
type DuckDbModule = typeof import('@duckdb/node-api');

const require = createRequire(import.meta.url);

/** Runs a CommonJS bundle file as Node's loader would, with `cachedData` when given. */
export function runBundle(file: string, cachedData?: Buffer): { exports: unknown; script: Script } {
  const source = readFileSync(file, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {} as unknown };
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { exports: module.exports, script };
}

/**
 * `dist/vendor/<name>` (this module compiled lives in dist/runner/util/) when it exists and was written
 * after `source` (ctime: npm gives the files it extracts an old mtime) — the package.json of what it
 * packs, or the compiled validators it copies. A package updated or validators rebuilt without
 * `npm run build` are then used directly. Else null.
 */
function bundleFile(name: string, source: URL): string | null {
  if (!import.meta.url.endsWith('.js')) return null;
  const file = fileURLToPath(new URL(`../../vendor/${name}`, import.meta.url));
  try {
    return statSync(file).mtimeMs >= statSync(source).ctimeMs ? file : null;
  } catch {
    return null;
  }
}

/** A bundle's exports, run with its code cache when there is one. */
function runCached(file: string): unknown {
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(`${file}.v8cache`);
  } catch {
    // no cache: compile as usual
  }
  return runBundle(file, cache).exports;
}

/**
 * The exports of the bundle `dist/vendor/<name>` (see bundleFile for `source`), or null when there is
 * none (TypeScript sources, tests) or it is stale.
 */
export function bundleExports(name: string, source: URL): unknown {
  const file = bundleFile(name, source);
  return file ? runCached(file) : null;
}

/** The bundle `dist/vendor/<name>`, else the package `pkg`. */
function vendored<T>(name: string, pkg: string): T {
  const file = bundleFile(name, new URL(`../../../node_modules/${pkg}/package.json`, import.meta.url));
  return (file ? runCached(file) : require(pkg)) as T;
}

let yamlModule: YamlModule | undefined;
let duckModule: DuckDbModule | undefined;

/** The `yaml` package. */
export function yaml(): YamlModule {
  yamlModule ??= vendored<YamlModule>('yaml.cjs', 'yaml');
  return yamlModule;
}

/** The `@duckdb/node-api` package (its native binding loads with it). */
export function duckdbModule(): DuckDbModule {
  duckModule ??= vendored<DuckDbModule>('duckdb.cjs', '@duckdb/node-api');
  return duckModule;
}
