/**
 * What `pefuse evaluate` and `pefuse export` use of the metrics code, in one module the catalog loads
 * on demand (`TOOLS.metrics` in stages/catalog.ts).
 */
export { loadFromFlags, readRankings, readScores } from './cli-input.js';
export { evaluateRankings, formatMetricsTable, noGroundTruth } from './evaluate.js';
export { buildSubmissions } from './export.js';
export { checkRankingDepth } from './rankings-depth.js';
export { readRunRankings } from './run-input.js';
export { ensureOutFolder, writeAllOrNothing } from './write-submissions.js';
