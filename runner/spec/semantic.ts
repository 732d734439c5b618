/**
 * Semantic checks that a schema cannot express: a conversion mode needs certain model blocks, dataset
 * names and their required fields, the splits each benchmark has.
 */
import { type Diagnostic, diag, type SourceSpan } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../diagnostics/suggest.js';
import { type LNode, nodeAt } from './located.js';
import { DATASET_NAMES, type Mode } from './types.js';

const SPLITS: Record<string, readonly string[]> = {
  fashioniq: ['val', 'test'],
  cirr: ['val', 'test1'],
  circo: ['val', 'test'],
  genecis: ['val'],
  synthetic: ['val'],
};

/** Checks every `datasets[i]` entry. */
export function checkDatasets(tree: LNode, diagnostics: Diagnostic[]): void {
  const list = nodeAt(tree, ['datasets']).node;
  if (list.kind !== 'seq') return;
  list.items.forEach((entry, i) => {
    if (entry.kind !== 'map') return;
    const name = entry.entries.get('name')?.value;
    if (name?.kind !== 'scalar' || typeof name.value !== 'string') return;
    if (!(DATASET_NAMES as readonly string[]).includes(name.value)) {
      diagnostics.push(
        diag(`unknown dataset \`${name.value}\``, name.span, {
          hint: didYouMean(name.value, DATASET_NAMES) ?? `known datasets: ${DATASET_NAMES.join(', ')}`,
        }),
      );
      return;
    }
    const field = (k: string) => entry.entries.get(k);
    const split = field('split')?.value;
    const splits = SPLITS[name.value]!;
    if (split?.kind === 'scalar' && typeof split.value === 'string' && !splits.includes(split.value)) {
      const hint =
        name.value === 'cirr' && split.value === 'test' ? 'CIRR calls its test split `test1`' : undefined;
      diagnostics.push(
        diag(`${name.value} has no split \`${split.value}\` (it has ${splits.join(', ')})`, split.span, {
          hint,
        }),
      );
    }
    if (name.value === 'fashioniq' && !field('category'))
      diagnostics.push(
        diag(`datasets[${i}]: fashioniq needs a \`category\` (dress, shirt or toptee)`, name.span, {
          hint: 'list one entry per category to get the three columns and their mean',
        }),
      );
    if (name.value === 'genecis' && !field('task'))
      diagnostics.push(
        diag(`datasets[${i}]: genecis needs a \`task\``, name.span, {
          hint: 'one of focus_attribute, change_attribute, focus_object, change_object',
        }),
      );
    if (name.value !== 'synthetic' && !field('root'))
      diagnostics.push(
        diag(
          `datasets[${i}]: ${name.value} needs a \`root\` (the dataset folder in its official layout)`,
          name.span,
          {
            hint: 'e.g. `root: ${env:PEFUSE_DATA:-data}/' + name.value + '`',
          },
        ),
      );
    for (const k of ['category', 'task'] as const) {
      const f = field(k);
      if (
        f &&
        !((k === 'category' && name.value === 'fashioniq') || (k === 'task' && name.value === 'genecis'))
      )
        diagnostics.push(diag(`\`${k}\` does not apply to ${name.value}`, f.keySpan));
    }
    for (const k of ['seed', 'n_gallery', 'n_queries'] as const) {
      const f = field(k);
      if (f && name.value !== 'synthetic')
        diagnostics.push(diag(`\`${k}\` applies only to the synthetic dataset`, f.keySpan));
    }
  });
}

/** Which model blocks a mode needs, given whether the diffusion text comes from the MLLM. */
export function requiredBlocks(mode: Mode, diffusionText: string | undefined): ('mllm' | 'diffusion')[] {
  switch (mode) {
    case 't2i':
    case 't2t':
      return ['mllm'];
    case 'i2i':
      return diffusionText === 'mllm' ? ['diffusion', 'mllm'] : ['diffusion'];
    case 'i2t':
      return ['diffusion', 'mllm'];
  }
}

const WHY: Record<Mode, string> = {
  t2i: 'it turns the reference image and text into a target description',
  t2t: 'it writes the target description and the gallery captions',
  i2i: 'it edits the reference image into a target image',
  i2t: 'the edited image is compared with MLLM captions of the gallery',
};

/** A mode (from the spec or a sweep value) needs a block that the point's configuration lacks. */
export function missingBlockDiagnostic(
  mode: Mode,
  block: 'mllm' | 'diffusion',
  span: SourceSpan,
  viaText: boolean,
): Diagnostic {
  const reason = block === 'mllm' && viaText && mode === 'i2i' ? 'diffusion.text is `mllm`' : WHY[mode];
  return diag(`mode \`${mode}\` needs a \`${block}\` block (${reason})`, span, {
    hint:
      block === 'mllm'
        ? 'add e.g. `mllm: {backend: vllm, model: Qwen/Qwen2.5-VL-7B-Instruct, endpoint: http://localhost:8000/v1}`'
        : 'add e.g. `diffusion: {backend: diffusers, pipeline: sdxl-instructpix2pix}`',
  });
}

/** `mllm.endpoint` is the base URL of an OpenAI-compatible server: it must be http(s). */
export function checkEndpoint(tree: LNode, diagnostics: Diagnostic[]): void {
  const at = nodeAt(tree, ['mllm', 'endpoint']);
  if (!at.found || at.node.kind !== 'scalar' || typeof at.node.value !== 'string') return;
  const text = at.node.value;
  let ok = false;
  try {
    const u = new URL(text);
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok)
    diagnostics.push(
      diag(`\`mllm.endpoint\` must be an http(s) URL (got "${text}")`, at.node.span, {
        hint: "the server's OpenAI-compatible base URL, e.g. `endpoint: http://localhost:8000/v1`",
      }),
    );
}

/** `repeats: {seeds: [...]}`: each repeat needs its own seed (two equal seeds are one run twice). */
export function checkRepeatSeeds(tree: LNode, diagnostics: Diagnostic[]): void {
  const seeds = nodeAt(tree, ['repeats', 'seeds']);
  if (!seeds.found || seeds.node.kind !== 'seq') return;
  const first = new Map<string, SourceSpan>();
  for (const item of seeds.node.items) {
    if (item.kind !== 'scalar') continue;
    const id = String(item.value);
    const prev = first.get(id);
    if (prev)
      diagnostics.push(
        diag(`duplicate seed ${id} in \`repeats.seeds\``, item.span, {
          related: [{ message: 'first listed here', span: prev }],
          hint: 'each repeat needs its own seed; remove the duplicate',
        }),
      );
    else first.set(id, item.span);
  }
}
