/**
 * Planning, the last layer of the front end (spec → sweep → plan): a checked spec and its points +
 * pipeline → keyed, deduplicated stage DAG with a cache status per stage.
 *
 *   points ─▶ facts (dataset/prompt/model identities, once per distinct input)
 *          ─▶ chain per point (mode) ─▶ KeyRecord per node ─▶ sha256 key ─▶ merge identical keys
 *          ─▶ unresolved points (an input not there) ─▶ swept values that reach no key (warned)
 *          ─▶ status: published in the store → cached; else why it runs (history of the slot)
 */
import { dirname, resolve } from 'node:path';
import type { KeyRecord, Pipeline, StageKey, Unresolved } from '../contract/stage.js';
import { type Diagnostic, diag, hasErrors } from '../diagnostics/diagnostic.js';
import type { CheckedSpec } from '../spec/compile.js';
import { nodeAt } from '../spec/located.js';
import { type JsonObject, sha256Hex } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { distance, explainChange, KEY_SCHEME, stageKeyOf } from './keys.js';
import type { DraftPoint } from './points.js';
import type { Plan, PlannedStage, Point } from './types.js';

/** What the planner needs from the store: is a key published, and what ran before in a slot. */
export interface PlanStore {
  isPublished(key: StageKey): Promise<boolean>;
  history(experiment: string, slot: string): Promise<KeyRecord[]>;
  /** Items an interrupted attempt journaled (0 when none): `run` resumes from them. */
  journaled?(key: StageKey): Promise<number>;
}

export interface BuildOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  cacheRoot: string;
  pipeline: Pipeline;
  /** Omit to plan without looking at the cache (every stage "run", reason "new"). */
  store?: PlanStore;
}

/** The spec layer's diagnostics are passed in; the plan's warnings are those and its own. */
export async function buildPlan(
  spec: CheckedSpec,
  drafts: readonly DraftPoint[],
  diagnostics: Diagnostic[],
  opts: BuildOptions,
): Promise<Result<Plan, Diagnostic[]>> {
  const tree = spec.tree;
  const configs = drafts.map((p) => p.config);
  const { facts, diagnostics: factDiags } = await opts.pipeline.facts(configs, {
    specDir: dirname(spec.path),
    cwd: opts.cwd,
    env: opts.env,
    cacheRoot: opts.cacheRoot,
    spanOf: (path, value) => {
      const at = nodeAt(tree, path);
      if (!at.found) return null;
      if (value !== undefined && (at.node.kind !== 'scalar' || at.node.value !== value)) return null;
      return at.node.span;
    },
    resolveFrom: (path, relative) => {
      const at = nodeAt(tree, path);
      const file = at.found ? at.node.span.file : '<command line>';
      const base = file === '<command line>' ? opts.cwd : dirname(resolve(opts.cwd, file));
      return resolve(base, relative);
    },
  });
  diagnostics.push(...factDiags);
  if (hasErrors(diagnostics)) return err(diagnostics);

  const experiment = String(spec.json.experiment);
  const stages = new Map<StageKey, PlannedStage>();
  const points: Point[] = [];
  drafts.forEach((draft, index) => {
    const nodes = opts.pipeline.chain(draft.config, facts[index]);
    const byRole: Record<string, StageKey> = {};
    const label = String(draft.params.dataset);
    for (const node of nodes) {
      const definition = opts.pipeline.definitions.get(node.kind);
      if (!definition) throw new Error(`no stage definition registered for kind ${node.kind}`);
      const inputs: Record<string, StageKey> = {};
      for (const [name, role] of Object.entries(node.inputs)) {
        const k = byRole[role];
        if (!k)
          throw new Error(`pipeline bug: ${node.role} needs ${role}, which is not earlier in the chain`);
        inputs[name] = k;
      }
      const record: KeyRecord = {
        scheme: KEY_SCHEME,
        kind: node.kind,
        impl_version: definition.implVersion,
        params: node.params,
        model: node.model,
        inputs,
        data: node.data,
      };
      const key = stageKeyOf(record);
      byRole[node.role] = key;
      const existing = stages.get(key);
      if (existing) {
        if (existing.points[existing.points.length - 1] !== index) existing.points.push(index);
        continue;
      }
      stages.set(key, {
        key,
        record,
        node,
        definition,
        points: [index],
        upstream: Object.values(inputs),
        status: 'run',
        reason: 'new',
        slot: `${label}:${node.role}`,
      });
    }
    // A point's id names what it computes, not only its swept values: the same values under another
    // `--set`, `--limit` or an edited spec are another point (their metrics are never mixed), while
    // writing a default out (`top_k: 50`) keeps the same stage keys and so the same point.
    const chain = Object.keys(byRole)
      .sort()
      .map((r) => `${r}=${byRole[r]}`)
      .join(',');
    const unresolved = [...opts.pipeline.unresolved(facts[index])];
    // A stage with nothing to compute: unresolved too, unless the facts already said why.
    for (const node of unresolved.length === 0 ? nodes : [])
      if (node.items === 0)
        unresolved.push({
          reason: `the ${node.kind} stage (${node.role}) would have 0 items`,
          variables: [],
          span: null,
        });
    points.push({
      index,
      id: sha256Hex(`${draft.id}\u0000${chain}`).slice(0, 12),
      params: draft.params,
      config: draft.config as unknown as JsonObject,
      stages: byRole,
      ...(unresolved.length > 0 ? { unresolved } : {}),
    });
  });

  const all = [...stages.values()];
  markUnresolved(all, points, diagnostics);
  diagnostics.push(...sweptWithoutEffect(drafts, points));
  if (opts.store)
    await resolveStatus(
      all.filter((s) => s.status !== 'unresolved'),
      experiment,
      opts.store,
    );
  return ok({
    experiment,
    specFile: spec.path,
    points,
    stages: all,
    report: spec.json.report ?? null,
    resources: (spec.json.resources as JsonObject | undefined) ?? {},
    ...(spec.json.slurm !== undefined ? { slurm: spec.json.slurm as JsonObject } : {}),
    warnings: diagnostics.filter((d) => d.severity === 'warning'),
  });
}

async function resolveStatus(stages: PlannedStage[], experiment: string, store: PlanStore): Promise<void> {
  const histories = new Map<string, Promise<KeyRecord[]>>();
  // Check in small parallel batches: plans can have tens of thousands of stages.
  const BATCH = 256;
  for (let i = 0; i < stages.length; i += BATCH) {
    await Promise.all(
      stages.slice(i, i + BATCH).map(async (s) => {
        if (s.node.uncacheable) {
          s.status = 'run';
          s.reason = `not cacheable: ${s.node.uncacheable}`;
          return;
        }
        if (await store.isPublished(s.key)) {
          s.status = 'cached';
          s.reason = 'cached';
          return;
        }
        let h = histories.get(s.slot);
        if (!h) {
          h = store.history(experiment, s.slot);
          histories.set(s.slot, h);
        }
        const before = await h;
        let best: KeyRecord | undefined;
        let bestD = Number.POSITIVE_INFINITY;
        for (let j = before.length - 1; j >= 0; j--) {
          const d = distance(s.record, before[j]!);
          if (d < bestD) {
            bestD = d;
            best = before[j];
          }
        }
        s.status = 'run';
        const resumable = (await store.journaled?.(s.key)) ?? 0;
        s.reason =
          resumable > 0
            ? `interrupted earlier: resumes ${resumable} journaled item${resumable === 1 ? '' : 's'}`
            : best
              ? explainChange(s.record, best)
              : 'new';
      }),
    );
  }
}

/**
 * A stage that only unresolved points use is `unresolved`: its key is not the one the real inputs would
 * give, so it neither runs nor counts as "will run". A warning names each distinct reason once, shown
 * before the others.
 */
function markUnresolved(stages: PlannedStage[], points: readonly Point[], diagnostics: Diagnostic[]): void {
  const bad = new Set(points.filter((p) => p.unresolved).map((p) => p.index));
  if (bad.size === 0) return;
  for (const s of stages)
    if (s.points.every((i) => bad.has(i))) {
      s.status = 'unresolved';
      s.reason = 'unresolved input';
    }
  const reasons = new Map<string, { u: Unresolved; n: number }>();
  for (const p of points)
    for (const u of p.unresolved ?? []) {
      const r = reasons.get(u.reason) ?? { u, n: 0 };
      r.n++;
      reasons.set(u.reason, r);
    }
  for (const { u, n } of reasons.values()) {
    if (u.span !== null) continue; // the fact that did not resolve was warned about where it is written
    diagnostics.push(
      diag(`${u.reason}: ${n} point${n === 1 ? ' is' : 's are'} unresolved and will not run`, null, {
        severity: 'warning',
        unresolved: 'empty',
        code: 'unresolved',
      }),
    );
  }
}

/**
 * A swept path whose values change no stage key of a point (sweeping `diffusion.guidance_scale` under
 * `mode: t2i`) gives identical points and a flat curve: a warning at the sweep axis. Points are compared
 * with the other swept values held fixed.
 */
function sweptWithoutEffect(drafts: readonly DraftPoint[], points: readonly Point[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const paths = new Map<string, Diagnostic['span']>();
  for (const d of drafts)
    for (const [p, span] of Object.entries(d.axes)) if (!paths.has(p)) paths.set(p, span);
  if (paths.size === 0) return out;
  // Each point's chain as one string, once (plans can have 100k points).
  const chains = points.map((p) =>
    Object.keys(p.stages)
      .sort()
      .map((r) => p.stages[r])
      .join(','),
  );
  for (const [path, span] of paths) {
    // Group the points that sweep `path` by their other params; within a group, different values of
    // `path` must give different chains somewhere.
    const groups = new Map<string, { values: Set<string>; chains: Set<string> }>();
    drafts.forEach((d, i) => {
      if (!(path in d.axes)) return;
      const { [path]: value, ...rest } = d.params;
      const id = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
      const g = groups.get(id) ?? { values: new Set<string>(), chains: new Set<string>() };
      g.values.add(JSON.stringify(value));
      g.chains.add(chains[i]!);
      groups.set(id, g);
    });
    const varied = [...groups.values()].filter((g) => g.values.size > 1);
    if (varied.length === 0 || varied.some((g) => g.chains.size > 1)) continue;
    const modes = new Set(drafts.filter((d) => path in d.axes).map((d) => String(d.config.mode)));
    out.push(
      diag(
        `sweeping \`${path}\` changes no stage of any point (mode ${[...modes].join(', ')}): its points compute the same thing`,
        span,
        {
          severity: 'warning',
          code: 'sweep-no-effect',
          hint: 'no stage of these points reads this setting (a mode uses only the blocks it needs); remove the axis, or sweep it under a mode whose stages use it',
        },
      ),
    );
  }
  return out;
}
