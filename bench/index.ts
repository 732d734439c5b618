/**
 * `npm run bench [-- NAME…]`: runs the named benchmarks (all when none is given). Each benchmark prints
 * a table with the reference measured in the same run and the ratio against it.
 */
type BenchModule = { run: () => Promise<void> };

// One line per benchmark: name → module.
const BENCHES: Record<string, () => Promise<BenchModule>> = {
  plan: () => import('./plan.js'),
  score: () => import('./score.js'),
  results: () => import('./results.js'),
  run: () => import('./run.js'),
  embed: () => import('./embed.js'),
  dummy: () => import('./dummy.js'),
};

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const selected = names.length > 0 ? names : Object.keys(BENCHES);
for (const name of selected) {
  const load = BENCHES[name];
  if (!load) {
    console.error(`unknown benchmark "${name}"; available: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  await (await load()).run();
}
