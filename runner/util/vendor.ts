/**
 * The CommonJS packages the CLI loads at start-up, from their one-file bundles in `dist/vendor/`
 * (scripts/bundle-vendor.mjs, written by `npm run build`) when they exist, else from node_modules
 * (TypeScript sources, tests): the same code either way, one file to read and compile instead of
 * dozens. Loaded on first use.
 */
import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');
type DuckDbModule = typeof import('@duckdb/node-api');

const require = createRequire(import.meta.url);

/** The bundle `dist/vendor/<file>` (this module compiled lives in dist/runner/util/), else `pkg`. */
function vendored<T>(file: string, pkg: string): T {
  if (import.meta.url.endsWith('.js')) {
    try {
      return require(`../../vendor/${file}`) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  return require(pkg) as T;
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
