/** Results database entry points. */
export { openResults, paramType, parseMetricName, sideOfRole } from './db.js';
export { DDL, SCHEMA_VERSION, TABLES, VIEWS } from './schema.js';
export type * from './types.js';
