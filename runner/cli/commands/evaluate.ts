/**
 * `pefuse evaluate`: official benchmark metrics from a score matrix or a rankings file, reading only the
 * annotation files (no images, no cache, no results DB).
 */
import type { Command } from 'commander';
import { CliExit, type CliIo, EXIT_USAGE } from '../io.js';
import type { RegisterCommand } from './index.js';

interface EvaluateFlags {
  dataset: string;
  split?: string;
  dataRoot: string;
  category?: string;
  task?: string;
  scores?: string;
  rankings?: string;
  json?: boolean;
}

export const registerEvaluate: RegisterCommand = (program: Command, io: CliIo) => {
  program
    .command('evaluate')
    .description('compute the official metrics of a benchmark from a score matrix or rankings')
    .requiredOption('--dataset <name>', 'fashioniq | cirr | circo | genecis')
    .option('--split <split>', 'val | test (CIRR: val | test1); GeneCIS has one split: leave it out')
    .requiredOption('--data-root <dir>', "the dataset's root in its official layout (annotation files only)")
    .option('--category <cat>', 'Fashion-IQ category: dress | shirt | toptee')
    .option(
      '--task <task>',
      'GeneCIS task: focus_attribute | change_attribute | focus_object | change_object',
    )
    .option('--scores <file.npy>', 'float32/float64 [queries, gallery] matrix in canonical order')
    .option(
      '--rankings <file.json>',
      '{"<query key>": [ids...]} (CIRR pairid, CIRCO id, row index otherwise)',
    )
    .option('--json', 'print the metrics as JSON')
    .action(async (flags: EvaluateFlags) => {
      const fail = (message: string): never => {
        throw new CliExit(EXIT_USAGE, `pefuse evaluate: ${message}`);
      };
      if ((flags.scores === undefined) === (flags.rankings === undefined))
        fail('give exactly one of --scores FILE.npy or --rankings FILE.json');
      const {
        loadFromFlags,
        readRankings,
        readScores,
        evaluateRankings,
        formatMetricsTable,
        noGroundTruth,
        checkRankingDepth,
      } = await (await import('../../../stages/catalog.js')).TOOLS.metrics();
      const loaded = await loadFromFlags(flags);
      if (!loaded.ok) return fail(loaded.error);
      for (const w of loaded.value.warnings) io.stderr(`pefuse evaluate: warning: ${w}\n`);
      const noGt = noGroundTruth(loaded.value);
      if (noGt !== null) fail(noGt);
      const ranked =
        flags.scores !== undefined
          ? await readScores(loaded.value, flags.scores)
          : await readRankings(loaded.value, flags.rankings!);
      if (!ranked.ok) return fail(ranked.error);
      if (flags.rankings !== undefined) {
        // A score matrix is ranked deep enough by construction; a user's lists may not be.
        const deep = checkRankingDepth(loaded.value, ranked.value, `--rankings ${flags.rankings}`);
        if (!deep.ok) return fail(deep.error);
      }
      const result = evaluateRankings(loaded.value, ranked.value);
      if (!result.ok) return fail(result.error);
      io.stdout(flags.json ? `${JSON.stringify(result.value, null, 2)}\n` : formatMetricsTable(result.value));
    });
};
