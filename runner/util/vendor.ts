/**
 * The CommonJS packages the CLI loads at start-up, from their one-file bundles in `dist/vendor/`
 * (scripts/bundle-vendor.mjs, written by `npm run build`) when they exist, else from node_modules
 * (TypeScript sources, tests): the same code either way, one file to read and compile instead of
 * dozens. Loaded on first use.
 *
 * A bundle runs with V8's code cache (`<bundle>.v8cache`, made by the build after exercising the
 * bundle, e.g. parsing the shipped specs): the functions it used start compiled, which halves what
 * loading `yaml` and parsing a spec cost a fresh process. A cache V8 rejects (another Node version)
 * is ignored: the bundle then compiles as any script.
 */
import { existsSync, readFileSync } from 'node:fs';
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

/** `dist/vendor/<name>` when it exists (this module compiled lives in dist/runner/util/), else null. */
function bundleFile(name: string): string | null {
  if (!import.meta.url.endsWith('.js')) return null;
  const file = fileURLToPath(new URL(`../../vendor/${name}`, import.meta.url));
  return existsSync(file) ? file : null;
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

/** The bundle `dist/vendor/<name>`, else the package `pkg`. */
function vendored<T>(name: string, pkg: string): T {
  const file = bundleFile(name);
  return (file ? runCached(file) : require(pkg)) as T;
}

type SpecValidators = Pick<typeof import('../spec/compiled/spec.js'), 'validateSpec'> &
  Pick<typeof import('../spec/compiled/params.js'), 'PARAM_VALIDATORS'>;

/**
 * The compiled spec validators from their code-cached bundle (compiled CLI), or null: then the
 * caller imports the ES modules in runner/spec/compiled/ (TypeScript sources, tests).
 */
export function specValidators(): SpecValidators | null {
  if (validators === undefined) {
    const file = bundleFile('validators.cjs');
    validators = file ? (runCached(file) as SpecValidators) : null;
  }
  return validators;
}

let validators: SpecValidators | null | undefined;
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
