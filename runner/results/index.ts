/** Results database entry points. */
export { dbFileProblem } from './check.js';
export { damagedHint } from './connection.js';
export { openResults, paramType, parseMetricName, sideOfRole } from './db.js';
export { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';
export { resultsLine } from './outcome.js';
export { pidAlive, pidOfRunId } from './recorded.js';
export { SCHEMA_VERSION, TABLES, VIEWS, VIEWS_DDL } from './schema.js';
export type * from './types.js';
