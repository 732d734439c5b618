/**
 * `pefuse export`: test-server submission files (CIRR: two files, CIRCO: one) from a score matrix or a
 * rankings file, or from the rankings a run stored for one point (`--run POINT`).
 */
import type { Command } from 'commander';
import { CliExit, type CliIo, EXIT_USAGE } from '../io.js';
import { cacheRootOf, dbFileOf } from '../planning.js';
import type { RegisterCommand } from './index.js';

interface ExportFlags {
  dataset: string;
  split: string;
  dataRoot: string;
  run?: string;
  scores?: string;
  rankings?: string;
  out: string;
}

/** The CIRR server's upload limit. */
const CIRR_MAX_BYTES = 5 * 1024 * 1024;

export const registerExport: RegisterCommand = (program: Command, io: CliIo) => {
  program
    .command('export')
    .description('write test-server submission files (CIRR, CIRCO) from a score matrix or rankings')
    .requiredOption('--dataset <name>', 'cirr | circo')
    .requiredOption('--split <split>', 'test (val also works, for the CIRCO evaluation script)')
    .requiredOption('--data-root <dir>', "the dataset's root in its official layout")
    .option('--run <point>', 'the rankings a `pefuse run` stored for this point id (see `pefuse status`)')
    .option('--scores <file.npy>', 'float32/float64 [queries, gallery] matrix in canonical order')
    .option('--rankings <file.json>', '{"<query key>": [ids...]} (CIRR pairid, CIRCO id)')
    .requiredOption('--out <dir>', 'folder for the submission files')
    .action(async (flags: ExportFlags, cmd: Command) => {
      const fail = (message: string): never => {
        throw new CliExit(EXIT_USAGE, `pefuse export: ${message}`);
      };
      const sources = [flags.run, flags.scores, flags.rankings].filter((s) => s !== undefined).length;
      if (sources !== 1) fail('give exactly one of --run POINT, --scores FILE.npy or --rankings FILE.json');
      const {
        loadFromFlags,
        readRankings,
        readScores,
        readRunRankings,
        buildSubmissions,
        ensureOutFolder,
        writeAllOrNothing,
      } = await (await import('../../../stages/catalog.js')).TOOLS.metrics();

      const loaded = await loadFromFlags(flags, ['cirr', 'circo']);
      if (!loaded.ok) return fail(loaded.error);
      for (const w of loaded.value.warnings) io.stderr(`pefuse export: warning: ${w}\n`);
      const ranked =
        flags.run !== undefined
          ? await readRunRankings(loaded.value, flags.run, {
              dbFile: dbFileOf(cmd, io),
              cacheRoot: cacheRootOf(cmd, io),
            })
          : flags.scores !== undefined
            ? await readScores(loaded.value, flags.scores)
            : await readRankings(loaded.value, flags.rankings!);
      if (!ranked.ok) return fail(ranked.error);
      const files = buildSubmissions(
        loaded.value,
        ranked.value,
        flags.run !== undefined
          ? `--run ${flags.run}`
          : flags.scores !== undefined
            ? `--scores ${flags.scores}`
            : `--rankings ${flags.rankings}`,
      );
      if (!files.ok) return fail(files.error);
      const folder = await ensureOutFolder(flags.out);
      if (!folder.ok) return fail(folder.error);
      const texts = files.value.map((f) => ({ ...f, text: JSON.stringify(f.content) }));
      const written = await writeAllOrNothing(flags.out, texts);
      if (!written.ok) return fail(written.error);
      for (const [i, f] of texts.entries()) {
        const path = written.value[i]!;
        io.stdout(`wrote ${path} (${f.queries} queries, top-${f.listLength})\n`);
        if (loaded.value.dataset === 'cirr' && Buffer.byteLength(f.text) > CIRR_MAX_BYTES)
          io.stderr(`pefuse export: warning: ${path} is larger than the CIRR server's 5 MB limit\n`);
      }
    });
};
