/**
 * `npm run bench -- NAME… [--repeat N]`: runs the named benchmarks; `npm run bench -- --help` lists
 * them. Each benchmark prints a table with the reference measured in the same run and the ratio against
 * it; measurements repeated N times (`--repeat`, or each bench's own default) show min, median and max,
 * and the ratios use medians. The machine's load average is printed before and after: on a shared
 * machine, compare medians and note the load.
 */
import { loadavg } from 'node:os';
import { setRepeat } from './table.js';

type BenchModule = { run: () => Promise<void> };

interface Bench {
  load: () => Promise<BenchModule>;
  what: string;
}

// One entry per benchmark: name → module and what it measures against what.
const BENCHES: Record<string, Bench> = {
  run: {
    load: () => import('./run.js'),
    what: 'whole-process start-up (--version, plan, a fully cached demo re-run) vs `node -e 0`; runner overhead per item vs a raw JSON-lines echo',
  },
  plan: {
    load: () => import('./plan.js'),
    what: 'planning 1k/10k/100k-point grids (µs per point) vs the bare Cartesian expansion',
  },
  embed: {
    load: () => import('./embed.js'),
    what: 'decode + PIL-exact preprocess img/s vs PIL (python3-pil) and sharp decode alone; BPE texts/s',
  },
  score: {
    load: () => import('./score.js'),
    what: 'cosine top-K scoring vs NumPy',
  },
  results: {
    load: () => import('./results.js'),
    what: 'DuckDB ingest of 1.2 M ranking rows vs batched INSERT … VALUES',
  },
  dummy: {
    load: () => import('./dummy.js'),
    what: 'synthetic dataset generation and dummy backends vs sharp decode alone',
  },
  report: {
    load: () => import('./report.js'),
    what: 'the whole `pefuse report` of a 30-point × 3-repeat sweep (target < 5 s) vs `pefuse status` on the same database',
  },
  mllm: {
    load: () => import('./mllm.js'),
    what: 'MLLM HTTP client req/s vs a loopback server capacity (200 ms, 64 at once) and bare fetch; RSS; images → data URIs/s with and without downscaling',
  },
};

const USAGE = `usage: npm run bench -- NAME… [--repeat N]

benchmarks:
${Object.entries(BENCHES)
  .map(([name, b]) => `  ${name.padEnd(8)} ${b.what}`)
  .join('\n')}

  --repeat N  repeat each measurement N times (min/median/max; default: each bench's own)
  --help      this list
`;

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const names: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--repeat') {
    const n = Number(args[++i]);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--repeat expects a whole number ≥ 1, got "${args[i]}"`);
      process.exit(2);
    }
    setRepeat(n);
  } else if (a === 'all') names.push(...Object.keys(BENCHES));
  else if (a.startsWith('-')) {
    console.error(`unknown option ${a}\n\n${USAGE}`);
    process.exit(2);
  } else names.push(a);
}
for (const name of names) {
  if (!BENCHES[name]) {
    console.error(`unknown benchmark "${name}"\n\n${USAGE}`);
    process.exit(2);
  }
}
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
for (const name of names) {
  console.log(`\n## bench ${name} (load average before: ${load()})`);
  await (await BENCHES[name]!.load()).run();
  console.log(`\n(load average after: ${load()})`);
}
