/** The built-in reporters, by `--reporter` name. */
import { jsonReporter } from './json.js';
import { plainReporter } from './plain.js';
import { ttyReporter } from './tty.js';
import type { Reporter, ReporterIo, ReporterName } from './types.js';

export {
  defaultReporter,
  REPORTER_NAMES,
  type Reporter,
  type ReporterIo,
  type ReporterName,
} from './types.js';

export const REPORTERS: Record<ReporterName, (io: ReporterIo) => Reporter> = {
  tty: (io) => ttyReporter(io),
  plain: plainReporter,
  json: jsonReporter,
};
