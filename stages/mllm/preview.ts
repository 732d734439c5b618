/**
 * `pefuse plan SPEC --show-prompt`: each distinct MLLM template of the plan rendered as the server
 * will see it, for the first query of its dataset when the annotation files are there (else for an
 * example query), with the system message and the image that goes beside it.
 */
import type { PlannedStage } from '../../runner/plan/types.js';
import type { QueryRecord } from '../contracts.js';
import { loadDataset, loadOptionsOf } from '../datasets/index.js';
import { NO_FIELDS, queryFields, renderPrompt } from './prompts.js';
import { SYSTEM_MESSAGE } from './request.js';

const EXAMPLE: QueryRecord = {
  id: 'example',
  reference: { id: 'reference', path: '<reference image>' },
  text: 'is red and has long sleeves',
  targets: [],
};

async function firstQuery(dataset: PlannedStage | undefined): Promise<{ q: QueryRecord; from: string }> {
  const p = dataset?.node.params;
  const opts = p && dataset ? loadOptionsOf(p, dataset.node.settings) : null;
  if (!p || opts === null || p.name === 'synthetic')
    return { q: EXAMPLE, from: 'an example query (the dataset is not loaded for previews)' };
  const loaded = await loadDataset(opts);
  if (!loaded.ok || loaded.value.queries.length === 0)
    return { q: EXAMPLE, from: `an example query (${loaded.ok ? 'no queries' : loaded.error.message})` };
  const q = loaded.value.queries[0] as QueryRecord;
  return { q, from: `query ${q.id}` };
}

export async function promptPreviews(stages: readonly PlannedStage[]): Promise<string> {
  const byKey = new Map(stages.map((s) => [s.key as string, s]));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of stages) {
    if (s.record.kind !== 'mllm.compose' && s.record.kind !== 'mllm.caption') continue;
    const template = s.node.settings.prompt;
    if (typeof template !== 'string') continue;
    const dataset = byKey.get(s.record.inputs.dataset as string);
    const id = `${s.record.kind}\0${template}\0${dataset?.key ?? ''}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const label = dataset
      ? [
          dataset.node.params.name,
          dataset.node.params.split,
          dataset.node.params.category ?? dataset.node.params.task,
        ]
          .filter((x) => typeof x === 'string')
          .join('/')
      : '?';
    const file = typeof s.node.settings.prompt_file === 'string' ? s.node.settings.prompt_file : '(inline)';
    if (s.record.kind === 'mllm.caption') {
      out.push(
        `${s.record.kind} · ${label} · ${file}\n  system: ${SYSTEM_MESSAGE}\n  image:  <each gallery image>\n  text:   ${indent(renderPrompt(template, NO_FIELDS))}\n`,
      );
      continue;
    }
    const { q, from } = await firstQuery(dataset);
    out.push(
      `${s.record.kind} · ${label} · ${file} · rendered for ${from}\n  system: ${SYSTEM_MESSAGE}\n  image:  ${q.reference.path}\n  text:   ${indent(renderPrompt(template, queryFields(q)))}\n`,
    );
  }
  return out.length === 0 ? 'no MLLM stage in this plan uses a prompt\n' : out.join('\n');
}

function indent(text: string): string {
  return text.replace(/\n/g, '\n          ');
}
