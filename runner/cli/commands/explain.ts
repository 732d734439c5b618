/**
 * `pefuse explain KEY`: prints a stage's key record — everything that went into its key — found in the
 * cache (published stages) or by planning the specs under experiments/ (or `--spec FILE`).
 * A unique key prefix (at least 6 hex characters) is enough.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { KeyRecord, StageKey } from '../../contract/stage.js';
import type { JsonValue } from '../../util/json.js';
import type { CliIo } from '../io.js';
import { CliExit, EXIT_USAGE } from '../io.js';
import { cacheRootOf, collect, planSpec, printDiagnostics } from '../planning.js';

interface Found {
  key: StageKey;
  record: KeyRecord;
  where: string;
}

export function registerExplain(program: Command, io: CliIo): void {
  program
    .command('explain')
    .description('print what is in a stage key (its key record), and whether it is cached')
    .argument('<key>', 'stage key or a unique prefix (from `pefuse plan`)')
    .option(
      '--spec <file>',
      'look the key up in this spec (repeatable; default: experiments/*.yaml)',
      collect,
      [],
    )
    .option('--json', 'print the key record as JSON')
    .action(async (keyArg: string, opts: { spec: string[]; json?: boolean }, cmd: Command) => {
      const prefix = keyArg.trim().toLowerCase();
      if (!/^[0-9a-f]{6,64}$/.test(prefix))
        throw new CliExit(
          EXIT_USAGE,
          `pefuse explain: "${keyArg}" is not a stage key (6 to 64 hex characters, as printed by \`pefuse plan\`)`,
        );
      // A spec named with --spec must exist (a typo would otherwise read as "no such key").
      for (const spec of opts.spec)
        if (!existsSync(resolve(io.cwd, spec)))
          throw new CliExit(EXIT_USAGE, `pefuse explain: --spec ${spec}: file not found`);
      const cacheRoot = cacheRootOf(cmd, io);
      const { openStore } = await import('../../store/index.js');
      const store = openStore(cacheRoot);
      const matches = new Map<string, Found>();
      for (const key of await store.stages.list()) {
        if (!key.startsWith(prefix)) continue;
        const m = await store.stages.readManifest(key);
        if (m.ok && m.value)
          matches.set(key, { key, record: m.value.record, where: 'published in the cache' });
      }
      if (matches.size === 0) {
        const specs = opts.spec.length > 0 ? opts.spec : defaultSpecs(io.cwd);
        for (const spec of specs) {
          const r = await planSpec(spec, io, { overrides: [], cacheRoot, withStore: true });
          if (!r.ok) {
            // The default experiments/*.yaml are searched best-effort; a spec the user named is not.
            if (opts.spec.length === 0) continue;
            printDiagnostics(io, r.error);
            throw new CliExit(
              EXIT_USAGE,
              `pefuse explain: --spec ${spec} has errors (above); fix them to look the key up in it`,
            );
          }
          for (const s of r.value.stages)
            if (s.key.startsWith(prefix) && !matches.has(s.key))
              matches.set(s.key, {
                key: s.key,
                record: s.record,
                where: `planned by ${spec} (${s.status}: ${s.reason})`,
              });
        }
      }
      if (matches.size === 0)
        throw new CliExit(
          EXIT_USAGE,
          `pefuse explain: no stage key starts with ${prefix} (searched the cache at ${cacheRoot} and ${opts.spec.length ? 'the given specs' : 'experiments/*.yaml'})`,
        );
      if (matches.size > 1)
        throw new CliExit(
          EXIT_USAGE,
          `pefuse explain: ${prefix} is ambiguous (${matches.size} keys: ${[...matches.keys()].map((k) => k.slice(0, 16)).join(', ')}); give more characters`,
        );
      const found = [...matches.values()][0]!;
      if (opts.json) {
        io.stdout(`${JSON.stringify({ key: found.key, record: found.record }, null, 2)}\n`);
        return;
      }
      io.stdout(renderRecord(found));
    });
}

function defaultSpecs(cwd: string): string[] {
  try {
    return readdirSync(join(cwd, 'experiments'))
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .sort()
      .map((f) => join('experiments', f));
  } catch {
    return [];
  }
}

function renderRecord(f: Found): string {
  const r = f.record;
  const lines = [
    `stage ${f.key}`,
    `  ${f.where}`,
    '',
    `scheme        ${r.scheme}`,
    `kind          ${r.kind}`,
    `impl_version  ${r.impl_version}`,
    'params',
    ...Object.keys(r.params)
      .sort()
      .map((k) => `  ${k.padEnd(20)} ${JSON.stringify(r.params[k])}`),
    `model         ${compact(r.model)}`,
    'inputs',
    ...(Object.keys(r.inputs).length === 0
      ? ['  (none)']
      : Object.keys(r.inputs)
          .sort()
          .map((k) => `  ${k.padEnd(20)} ${r.inputs[k]}`)),
    `data          ${compact(r.data)}`,
  ];
  return `${lines.join('\n')}\n`;
}

function compact(v: JsonValue): string {
  return v === null ? '(none)' : JSON.stringify(v);
}
