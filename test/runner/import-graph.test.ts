/**
 * The engine's layering, read from the import statements of the TypeScript sources (type-only
 * imports count: a circle of types is still a circle in the design):
 *
 *   util ◀── contract ◀── store ◀── plan ◀── exec        (and nothing back up)
 *
 * The stage contract (runner/contract/) is the bottom of the engine that stages see: it imports no
 * planner, executor or store code, and plan, exec and store form no circle among themselves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const RUNNER = join(REPO_ROOT, 'runner');
const IMPORT = /(?:^|\s)(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'compiled' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Folder of runner/ a file is in (`contract`, `exec`, …), or null outside runner/. */
function folderOf(file: string): string | null {
  const rel = relative(RUNNER, file);
  if (rel.startsWith('..')) return null;
  const parts = rel.split(/[\\/]/);
  return parts.length > 1 ? parts[0]! : null;
}

/** folder → folders it imports from, with one example import each. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sources(RUNNER)) {
    const from = folderOf(file);
    if (!from) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      const to = folderOf(resolve(dirname(file), spec));
      if (!to || to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${relative(REPO_ROOT, file)} imports ${spec}`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** Every circle among `folders` (as a path of example imports), by depth-first search. */
function circles(graph: Map<string, Map<string, string>>, folders: readonly string[]): string[][] {
  const found: string[][] = [];
  const within = new Set(folders);
  const walk = (start: string, at: string, path: string[], seen: Set<string>) => {
    for (const [to, why] of graph.get(at) ?? []) {
      if (!within.has(to)) continue;
      if (to === start) found.push([...path, why]);
      else if (!seen.has(to) && to > start) walk(start, to, [...path, why], new Set([...seen, to]));
    }
  };
  for (const f of folders) walk(f, f, [], new Set([f]));
  return found;
}

describe('the engine import graph', () => {
  const graph = folderGraph();

  it('has no import circle between plan, exec, store and the stage contract', () => {
    expect(circles(graph, ['contract', 'plan', 'exec', 'store'])).toEqual([]);
  });

  it('has no import circle between any two folders of the engine', () => {
    expect(
      circles(graph, [...new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])])]),
    ).toEqual([]);
  });

  it('keeps the stage contract below the planner, the executor and the store', () => {
    const up = [...(graph.get('contract') ?? [])].filter(([to]) =>
      ['plan', 'exec', 'store', 'results', 'cli'].includes(to),
    );
    expect(up).toEqual([]);
  });

  it('sees the imports it checks (a sanity check of the parser)', () => {
    expect(graph.get('exec')?.has('contract')).toBe(true);
    expect(graph.get('store')?.has('contract')).toBe(true);
    expect(graph.get('plan')?.has('contract')).toBe(true);
  });
});
