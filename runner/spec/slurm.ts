/**
 * Checks of the `slurm:` block that the schema cannot express: the time-limit and memory formats sbatch
 * accepts, no empty names, and no extra flag that would take over what pefuse itself sets per job
 * (the array, the log files, `--parsable`, `--wait`). Located like every other spec problem.
 */
import { type Diagnostic, diag } from '../diagnostics/diagnostic.js';
import { nodeAt } from './located.js';

/** sbatch --time: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (or UNLIMITED / INFINITE). */
const TIME =
  /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$/i;
/** sbatch --mem: a number with an optional K, M, G or T suffix (default megabytes). */
const MEM = /^\d+[KMGT]?$/i;

/** sbatch flags pefuse sets itself on every job; a user flag naming one would break the bookkeeping. */
export const RESERVED_SBATCH_FLAGS: readonly string[] = [
  '--array',
  '-a',
  '--output',
  '-o',
  '--error',
  '-e',
  '--parsable',
  '--wait',
  '-W',
  '--job-name',
  '-J',
  '--chdir',
  '-D',
];

export function checkSlurm(tree: import('./located.js').LNode, diagnostics: Diagnostic[]): void {
  const block = nodeAt(tree, ['slurm']);
  if (!block.found || block.node.kind !== 'map') return;
  const str = (key: string) => {
    const at = nodeAt(tree, ['slurm', key]);
    return at.found && at.node.kind === 'scalar' && typeof at.node.value === 'string'
      ? { value: at.node.value, span: at.node.span }
      : null;
  };
  for (const key of ['partition', 'account', 'qos', 'gpu_type']) {
    const v = str(key);
    if (v && v.value.trim() === '')
      diagnostics.push(
        diag(`\`slurm.${key}\` is empty`, v.span, { hint: 'remove the key to use the default' }),
      );
  }
  const time = str('time');
  if (time && !TIME.test(time.value.trim()))
    diagnostics.push(
      diag(`\`slurm.time\` is not a Slurm time limit (got "${time.value}")`, time.span, {
        hint: 'write minutes (90), HH:MM:SS (01:30:00) or D-HH:MM:SS (1-00:00:00)',
      }),
    );
  const mem = str('mem');
  if (mem && !MEM.test(mem.value.trim()))
    diagnostics.push(
      diag(`\`slurm.mem\` is not an sbatch memory size (got "${mem.value}")`, mem.span, {
        hint: 'a number of megabytes, or with a unit: 4000M, 16G',
      }),
    );
  const flags = nodeAt(tree, ['slurm', 'sbatch_flags']);
  if (flags.found && flags.node.kind === 'seq') {
    for (const item of flags.node.items) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') continue;
      const flag = item.value.trim();
      if (!flag.startsWith('-')) {
        diagnostics.push(
          diag(`\`slurm.sbatch_flags\`: "${item.value}" is not an sbatch flag`, item.span, {
            hint: 'one flag per entry, with its value: `--constraint=a100`',
          }),
        );
        continue;
      }
      const name = flag.startsWith('--') ? flag.split('=')[0]! : flag.slice(0, 2);
      if (RESERVED_SBATCH_FLAGS.includes(name))
        diagnostics.push(
          diag(`\`slurm.sbatch_flags\`: pefuse sets \`${name}\` itself on every job`, item.span, {
            hint: 'use slurm.array_parallelism for the array limit; logs go to the stage folder',
          }),
        );
    }
  }
}
