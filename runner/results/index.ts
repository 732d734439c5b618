/** Results database entry points. */
export { dbFileProblem } from './check.js';
export { damagedHint } from './connection.js';
export { openResults, paramType, parseMetricName, sideOfRole } from './db.js';
export { resultsLine } from './outcome.js';
export { pidAlive, pidOfRunId } from './recorded.js';
export { DDL, SCHEMA_VERSION, TABLES, VIEWS } from './schema.js';
export type * from './types.js';
