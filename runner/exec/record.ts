/**
 * The orchestrator's side of the results database (the only writer): one stage row per stage
 * outcome, plus what each kind adds — item timings for computed stages, generated texts/images for
 * `mllm.*` / `diffusion.edit`, top-K rankings for `score`, metric rows per point for `metrics`.
 *
 * Writes are queued (the DB batches them) and never block the run; a database problem (locked by
 * another process, disk full) becomes one `warning` event, not a failed stage: the store is the source
 * of truth and the rows can be re-recorded by running the command again. That is why a cached stage
 * records whatever the database lacks for it (after results.duckdb was deleted, or a run could not
 * write): one query at the start says what is there for the run's cached keys.
 */
import { hostname } from 'node:os';
import { generatedOf, outputItemCount, stageOutput } from '../contract/outputs.js';
import type { StageKey, StageKind } from '../contract/stage.js';
import type { EventSink } from '../events/event.js';
import type { Plan, PlannedStage } from '../plan/types.js';
import type { PerQuery } from '../results/query-results.js';
import { pidAlive } from '../results/recorded.js';
import type {
  GenerationRow,
  RecordedStage,
  ResultsDb,
  ResultsResult,
  RunRow,
  StageRow,
} from '../results/types.js';
import type { ObjectStore, StageManifest } from '../store/types.js';
import { isJsonObject, type JsonValue } from '../util/json.js';
import { parseNpy } from '../util/npy.js';
import type { StageOutcome } from './stage-exec.js';

/**
 * Kinds that run inside pefuse itself, not in a worker: a peak memory they publish is pefuse's own
 * (lifetime) RSS, which says nothing about the stage, so it is not recorded (the compute table's
 * `peak_mem_mb` is the largest peak a worker reported).
 */
export const IN_PROCESS_KINDS: ReadonlySet<StageKind> = new Set<StageKind>(['dataset', 'score', 'metrics']);

/**
 * How many items a published stage processed. Worker stages journal one record per item; in-process
 * stages journal none (`items: []`), so their count comes from what the output describes (read through
 * the contract, `outputItemCount`: an embedding's rows, a dataset's queries, the queries metrics
 * evaluated), a score stage one ranking per query row of its query embedding
 * (`itemsOf(record.inputs.queries)`). Falls back to the planned count; null when nothing says.
 */
export function stageItemCount(
  stage: PlannedStage,
  m: StageManifest,
  itemsOf: (key: StageKey) => number | null | undefined = () => undefined,
): number | null {
  if (m.items.length > 0) return m.items.length;
  let n: number | null;
  if (stage.record.kind === 'score') {
    const q = stage.record.inputs.queries;
    n = q === undefined ? null : (itemsOf(q) ?? null);
  } else n = outputItemCount(stage.record.kind, m.output);
  return n ?? stage.node.items;
}

export class ResultsRecorder {
  readonly #db: ResultsDb | null;
  readonly #emit: EventSink;
  readonly #plan: Plan;
  readonly #objects: ObjectStore;
  readonly #run: RunRow;
  readonly #pending = new Set<Promise<void>>();
  /** Item counts of the stages seen so far (a score stage counts the rows of its query embedding). */
  readonly #items = new Map<StageKey, number>();
  /** What the database holds for the plan's cached stages; read once at the start. */
  #recorded: Promise<Map<StageKey, RecordedStage>> = Promise.resolve(new Map());
  #warned = false;
  readonly #stageRows: StageRow[] = [];
  #flushQueued = false;
  readonly #withdraw: (key: StageKey) => Promise<boolean>;

  constructor(
    db: ResultsDb | null,
    plan: Plan,
    objects: ObjectStore,
    emit: EventSink,
    runId: string,
    argv: string[],
    /** Un-publishes a stage whose output objects turned out missing or corrupt (see heal.ts). */
    withdraw: (key: StageKey) => Promise<boolean> = async () => false,
  ) {
    this.#withdraw = withdraw;
    this.#db = db;
    this.#plan = plan;
    this.#objects = objects;
    this.#emit = emit;
    this.#run = {
      id: runId,
      experiment: plan.experiment,
      specFile: plan.specFile,
      startedAt: new Date(),
      status: 'running',
      host: hostname(),
      argv,
    };
  }

  start(): void {
    const db = this.#db;
    if (!db) return;
    const cachedKeys = this.#plan.stages.filter((s) => s.status === 'cached').map((s) => s.key);
    this.#recorded = db.recorded(this.#plan.experiment, cachedKeys).then((r) => {
      if (r.ok) return r.value;
      this.#warn(r.error.message); // the first wait on a locked file: its message says how long
      return new Map<StageKey, RecordedStage>();
    });
    this.#track(
      db
        .markDeadRuns(this.#run.host, (pid) => pid !== process.pid && pidAlive(pid))
        .then((r) => (r.ok ? { ok: true as const, value: undefined } : r)),
    );
    this.#track(db.recordRun(this.#run));
    this.#track(
      db.recordExperiment({
        name: this.#plan.experiment,
        specFile: this.#plan.specFile,
        nPoints: this.#plan.points.length,
        report: this.#plan.report,
      }),
    );
    this.#track(db.recordPoints(this.#plan.experiment, this.#plan.points, this.#run.id));
  }

  /**
   * The item count recorded for a stage seen so far (see `stageItemCount`), for events that report
   * items: in-process stages journal none, so `manifest.items.length` is 0 for them.
   */
  itemsOf(key: StageKey): number | null {
    return this.#items.get(key) ?? null;
  }

  stage(stage: PlannedStage, outcome: StageOutcome): void {
    const db = this.#db;
    if (outcome.status === 'cached' || outcome.status === 'published') {
      const n = stageItemCount(stage, outcome.manifest, (k) => this.#items.get(k));
      if (n !== null) this.#items.set(stage.key, n);
    }
    if (!db) return;
    const base = {
      key: stage.key,
      kind: stage.record.kind,
      backend: stage.node.backend,
      record: stage.record,
    };
    const inProcess = IN_PROCESS_KINDS.has(stage.record.kind);
    switch (outcome.status) {
      case 'cached': {
        const m = outcome.manifest;
        const items = this.#items.get(stage.key) ?? null;
        const row: StageRow = {
          ...base,
          status: 'cached',
          // The manifest's compute time: a database rebuilt from the cache keeps the compute table.
          seconds: m.seconds,
          items,
          cachedItems: items,
          attempts: m.attempts,
          host: m.host,
          device: m.device,
          peakMemMb: inProcess ? null : m.peak_mem_mb,
          finishedAt: new Date(m.finished_at),
          runId: this.#run.id,
          ...servedOf(m),
        };
        this.#pendingOp(this.#fillCached(stage, m, row));
        return;
      }
      case 'published': {
        const m = outcome.manifest;
        this.#queueStage({
          ...base,
          status: 'published',
          seconds: m.seconds,
          items: this.#items.get(stage.key) ?? null,
          cachedItems: outcome.resumed + m.items.filter((i) => i.cached === true).length,
          failedItems: 0,
          attempts: m.attempts,
          host: m.host,
          device: m.device,
          peakMemMb: inProcess ? null : m.peak_mem_mb,
          startedAt: outcome.startedAt,
          finishedAt: new Date(m.finished_at),
          runId: this.#run.id,
          ...servedOf(m),
        });
        if (m.items.length > 0) this.#track(db.recordItemTimings(stage.key, m.items));
        this.#generations(stage, m);
        this.#metrics(stage, m, null);
        if (stage.record.kind === 'score') this.#pendingOp(this.#rankings(stage.key, m));
        return;
      }
      case 'failed':
      case 'cancelled': {
        const upstream =
          outcome.failure.reason === 'upstream-failed' || outcome.failure.reason === 'cancelled';
        this.#queueStage({
          ...base,
          status: upstream ? 'skipped' : 'failed',
          items: outcome.done,
          failedItems: outcome.status === 'failed' ? outcome.failedItems : 0,
          attempts: outcome.status === 'failed' ? outcome.attempts : 0,
          failure: outcome.failure,
          host: hostname(),
          startedAt: outcome.status === 'failed' ? outcome.startedAt : null,
          finishedAt: new Date(),
          runId: this.#run.id,
        });
        return;
      }
    }
  }

  /**
   * A cached stage: records the rows the database lacks for it (its stage row, item timings,
   * generations, rankings, metrics of points whose latest metrics are not this stage's), so deleting
   * results.duckdb and re-running restores everything, while a normal fully cached re-run writes no
   * stage rows at all: a row that records this very computation (published or cached, finished at the
   * manifest's time) is left as it is.
   */
  async #fillCached(stage: PlannedStage, m: StageManifest, row: StageRow): Promise<void> {
    const have = (await this.#recorded).get(stage.key);
    const db = this.#db!;
    const recorded =
      have?.row != null &&
      (have.row.status === 'published' || have.row.status === 'cached') &&
      have.row.finishedAt !== null &&
      Date.parse(have.row.finishedAt) === Date.parse(m.finished_at);
    if (!recorded) this.#queueStage(row);
    if (!have?.timings && m.items.length > 0) this.#track(db.recordItemTimings(stage.key, m.items));
    if (!have?.generations) this.#generations(stage, m);
    this.#metrics(stage, m, have ? new Set(have.metricPoints) : null);
    if (stage.record.kind === 'score' && !have?.rankings) await this.#rankings(stage.key, m);
  }

  /** Records the run's final status and waits for every queued write. */
  async finish(status: RunRow['status']): Promise<void> {
    const db = this.#db;
    if (!db) return;
    this.#track(db.recordRun({ ...this.#run, status, finishedAt: new Date() }));
    do {
      this.#flushStages();
      await Promise.all([...this.#pending]);
    } while (this.#pending.size > 0 || this.#stageRows.length > 0);
    this.#check(await db.close());
  }

  /**
   * Stage rows are written in sets: rows queued in the same turn of the event loop (all the cached
   * stages at the start of a run, stages finishing together) go out as one statement.
   */
  #queueStage(row: StageRow): void {
    this.#stageRows.push(row);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => this.#flushStages());
  }

  #flushStages(): void {
    this.#flushQueued = false;
    if (this.#stageRows.length === 0 || !this.#db) return;
    this.#track(this.#db.recordStages(this.#stageRows.splice(0)));
  }

  #generations(stage: PlannedStage, m: StageManifest): void {
    const kind = stage.record.kind;
    if (kind !== 'mllm.compose' && kind !== 'mllm.caption' && kind !== 'diffusion.edit') return;
    const rows: GenerationRow[] = [];
    for (const item of m.items) {
      // Several descriptions of one item (mllm.descriptions > 1): one row each.
      generatedOf(kind, item.output).forEach((d, i) => {
        const row: GenerationRow = { itemId: item.id, description: i };
        if (d.text !== undefined) row.text = d.text;
        if (d.tokens !== undefined) row.tokens = d.tokens;
        if (d.prompt_tokens !== undefined) row.promptTokens = d.prompt_tokens;
        // diffusion.edit: `tokens` is the CLIP prompt length; MLLM stages: what the model wrote.
        if (kind === 'diffusion.edit' && d.prompt_tokens !== undefined) row.tokens = d.prompt_tokens;
        if (row.tokens === undefined && d.completion_tokens !== undefined) row.tokens = d.completion_tokens;
        if (d.completion_tokens !== undefined) row.completionTokens = d.completion_tokens;
        if (d.finish_reason !== undefined) row.finishReason = d.finish_reason;
        if (d.latency_s !== undefined) row.latencyS = d.latency_s;
        if (d.truncated_tokens !== undefined) row.truncatedTokens = d.truncated_tokens;
        if (d.image) {
          row.image = d.image.sha256;
          row.imagePath = this.#objects.pathOf(d.image.sha256);
        }
        rows.push(row);
      });
    }
    if (rows.length > 0) this.#track(this.#db!.recordGenerations(stage.key, kind, stage.node.backend, rows));
  }

  /** Metric rows per point of a metrics stage; `skip`: points whose latest metrics already are these. */
  #metrics(stage: PlannedStage, m: StageManifest, skip: ReadonlySet<string> | null): void {
    if (stage.record.kind !== 'metrics') return;
    const o = stageOutput('metrics', m.output);
    if (!o) return;
    const metrics = numbers(o.metrics);
    const hits = isJsonObject(o.hits as unknown as JsonValue) ? numbers(o.hits) : {};
    let perQuery = perQueryOf(o.per_query as unknown as JsonValue);
    for (const index of stage.points) {
      const point = this.#plan.points[index];
      if (!point || skip?.has(point.id)) continue;
      this.#track(
        this.#db!.recordMetrics({
          experiment: this.#plan.experiment,
          pointId: point.id,
          stageKey: stage.key,
          runId: this.#run.id,
          dataset: o.dataset,
          split: String(o.split ?? ''),
          subset: typeof o.subset === 'string' ? o.subset : null,
          n: o.n,
          metrics,
          hits,
          perQuery,
        }),
      );
      perQuery = null; // once per stage key
    }
  }

  async #rankings(key: StageKey, m: StageManifest): Promise<void> {
    const o = stageOutput('score', m.output);
    if (!o) return;
    const [q, g, ix, sc] = await Promise.all(
      [o.query_ids, o.gallery_ids, o.indices, o.scores].map((r) => this.#objects.read(r)),
    );
    if (!q?.ok || !g?.ok || !ix?.ok || !sc?.ok) {
      // The cache is damaged, not only the database: withdraw the stage so the next run recomputes it.
      const withdrawn = await this.#withdraw(key);
      this.#emit({
        type: 'warning',
        key,
        message: withdrawn
          ? `score stage ${key.slice(0, 12)}: an output object is missing or corrupt, so its rankings were not recorded; the stage was withdrawn: re-run the same command to recompute it`
          : `score stage ${key.slice(0, 12)}: rankings not recorded (an output object could not be read)`,
      });
      return;
    }
    const indices = parseNpy(ix.value);
    const scores = parseNpy(sc.value);
    if (
      !indices.ok ||
      !scores.ok ||
      !(indices.value.data instanceof Int32Array) ||
      !(scores.value.data instanceof Float32Array)
    ) {
      this.#warn(
        `score stage ${key.slice(0, 12)}: rankings not recorded (indices/scores are not int32/float32 .npy)`,
      );
      return;
    }
    const dec = new TextDecoder();
    const r = await this.#db!.recordRankings({
      stageKey: key,
      queryIds: JSON.parse(dec.decode(q.value)) as string[],
      galleryIds: JSON.parse(dec.decode(g.value)) as string[],
      indices: indices.value.data,
      scores: scores.value.data,
      k: o.k,
    });
    this.#check(r);
  }

  #track(p: Promise<ResultsResult>): void {
    this.#pendingOp(p.then((r) => this.#check(r)));
  }

  #pendingOp(p: Promise<void>): void {
    const q = p.catch((e: unknown) =>
      this.#warn(`results database: ${e instanceof Error ? e.message : String(e)}`),
    );
    this.#pending.add(q);
    void q.finally(() => this.#pending.delete(q));
  }

  #check(r: ResultsResult): void {
    if (!r.ok) this.#warn(r.error.message);
  }

  #warn(message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#emit({ type: 'warning', message: `${message} (results not recorded; the cache is unaffected)` });
  }
}

function numbers(o: Readonly<Record<string, JsonValue>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** A metrics output's `per_query` block (`{ids, values: {metric: number[]}}`), or null when absent. */
function perQueryOf(v: JsonValue | undefined): PerQuery | null {
  if (!isJsonObject(v ?? null)) return null;
  const o = v as Record<string, JsonValue>;
  if (!Array.isArray(o.ids) || !isJsonObject(o.values)) return null;
  const ids = o.ids.map(String);
  const values: Record<string, number[]> = {};
  for (const [k, list] of Object.entries(o.values))
    if (Array.isArray(list) && list.length === ids.length) values[k] = list.map(Number);
  return { ids, values };
}

/** What served an MLLM stage (its output's `served_model` / `server_version`), for the stages table. */
function servedOf(m: StageManifest): { servedModel?: string; serverVersion?: string } {
  const kind = m.record.kind;
  if (kind !== 'mllm.compose' && kind !== 'mllm.caption') return {};
  const o = stageOutput(kind, m.output);
  const out: { servedModel?: string; serverVersion?: string } = {};
  if (typeof o?.served_model === 'string') out.servedModel = o.served_model;
  if (typeof o?.server_version === 'string') out.serverVersion = o.server_version;
  return out;
}
