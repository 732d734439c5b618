/**
 * Planning: compiled spec + pipeline → keyed, deduplicated stage DAG with a cache status per stage.
 *
 *   points ─▶ facts (dataset/prompt/model identities, once per distinct input)
 *          ─▶ chain per point (mode) ─▶ KeyRecord per node ─▶ sha256 key ─▶ merge identical keys
 *          ─▶ status: published in the store → cached; else why it runs (history of the slot)
 */
import { dirname, resolve } from 'node:path';
import { type Diagnostic, hasErrors } from '../diagnostics/diagnostic.js';
import { compileSpec } from '../spec/compile.js';
import { nodeAt } from '../spec/located.js';
import { type JsonObject, sha256Hex } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { distance, explainChange, KEY_SCHEME, stageKeyOf } from './keys.js';
import type { KeyRecord, Pipeline, StageKey } from './stage.js';
import type { Plan, PlannedStage, Point } from './types.js';

/** What the planner needs from the store: is a key published, and what ran before in a slot. */
export interface PlanStore {
  isPublished(key: StageKey): Promise<boolean>;
  history(experiment: string, slot: string): Promise<KeyRecord[]>;
  /** Items an interrupted attempt journaled (0 when none): `run` resumes from them. */
  journaled?(key: StageKey): Promise<number>;
}

export interface BuildOptions {
  overrides: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  cacheRoot: string;
  pipeline: Pipeline;
  /** Omit to plan without looking at the cache (every stage "run", reason "new"). */
  store?: PlanStore;
}

export async function buildPlan(file: string, opts: BuildOptions): Promise<Result<Plan, Diagnostic[]>> {
  const { spec, diagnostics } = compileSpec(file, {
    cwd: opts.cwd,
    env: opts.env,
    overrides: opts.overrides,
    datasetLabel: opts.pipeline.datasetLabel,
  });
  if (!spec) return err(diagnostics);
  const tree = spec.tree;
  const configs = spec.points.map((p) => p.config);
  const { facts, diagnostics: factDiags } = await opts.pipeline.facts(configs, {
    specDir: dirname(spec.path),
    cwd: opts.cwd,
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
  spec.points.forEach((draft, index) => {
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
    points.push({
      index,
      id: sha256Hex(`${draft.id}\u0000${chain}`).slice(0, 12),
      params: draft.params,
      config: draft.config as unknown as JsonObject,
      stages: byRole,
    });
  });

  if (opts.store) await resolveStatus([...stages.values()], experiment, opts.store);
  return ok({
    experiment,
    specFile: spec.path,
    points,
    stages: [...stages.values()],
    report: spec.json.report ?? null,
    resources: (spec.json.resources as JsonObject | undefined) ?? {},
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
