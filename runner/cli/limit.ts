/**
 * Options shared by the commands that plan a spec (`run`, `plan`, `gc`): integer flags, and `--limit N`,
 * which becomes `datasets.<i>.limit=N` overrides so that a quick check is keyed (and cached, and kept
 * by gc) separately from the full run.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliExit, type CliIo, EXIT_USAGE } from './io.js';

export function intOption(command: string, name: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new CliExit(EXIT_USAGE, `pefuse ${command}: ${name} must be an integer ≥ ${min} (got "${text}")`);
  }
  return n;
}

/** `--limit N` is `datasets.<i>.limit=N` for every dataset the spec lists (so the limit is in the keys). */
export async function limitOverrides(
  command: string,
  spec: string,
  text: string,
  io: CliIo,
): Promise<string[]> {
  const n = intOption(command, '--limit', text, 1);
  const { parse: parseYaml } = await import('yaml'); // not at start-up: `pefuse --version` needs no YAML
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(resolve(io.cwd, spec), 'utf8'));
  } catch {
    return []; // planning reports the unreadable spec with its location
  }
  const datasets = (doc as { datasets?: unknown } | null)?.datasets;
  if (!Array.isArray(datasets)) {
    throw new CliExit(
      EXIT_USAGE,
      `pefuse ${command}: --limit needs the spec's own \`datasets\` list; set it per dataset instead, e.g. --set datasets.0.limit=${n}`,
    );
  }
  return datasets.map((_, i) => `datasets.${i}.limit=${n}`);
}
