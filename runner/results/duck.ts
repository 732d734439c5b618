/**
 * The DuckDB module, loaded on first use with `require`: the package is CommonJS, and `import()` of it
 * makes Node scan every file of it for named exports first (cjs-module-lexer), which cost more than the
 * rest of a fully cached re-run's database work.
 */
import { createRequire } from 'node:module';

type DuckDbModule = typeof import('@duckdb/node-api');

let loaded: DuckDbModule | undefined;

export function duckdb(): DuckDbModule {
  loaded ??= createRequire(import.meta.url)('@duckdb/node-api') as DuckDbModule;
  return loaded;
}
