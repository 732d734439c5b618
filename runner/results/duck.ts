/**
 * The DuckDB module, loaded on first use with `require` (from its one-file bundle in the compiled CLI,
 * see runner/util/vendor.ts): the package is CommonJS, and `import()` of it makes Node scan every file
 * of it for named exports first (cjs-module-lexer), which cost more than the rest of a fully cached
 * re-run's database work.
 */
import { duckdbModule } from '../util/vendor.js';

type DuckDbModule = typeof import('@duckdb/node-api');

export function duckdb(): DuckDbModule {
  return duckdbModule();
}
