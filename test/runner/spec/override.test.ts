/** `--set` edge cases: object internals, list indexes, `include`. */
import { describe, expect, it } from 'vitest';
import { BASE, check, firstConfig } from './helpers.js';

const set = (o: string) => check({ 'spec.yaml': BASE }, { overrides: [o] });

describe('--set', () => {
  it.each([
    ['__proto__.polluted=1', 7, '__proto__'],
    ['mllm.constructor=1', 12, 'constructor'],
    ['mllm.prototype.x=1', 12, 'prototype'],
  ])('%s is rejected (no prototype pollution)', async (o, col, seg) => {
    const r = await set(o);
    expect(r.text).toBe(`<command line>:1:${col}: error: \`${seg}\` cannot be used in an override path
  1 | --set ${o}
    | ${' '.repeat(col - 1)}${'^'.repeat(seg.length)}
  hint: override paths name spec keys, e.g. --set mllm.temperature=0.3

1 error
`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a __proto__ key in the spec file is an unknown key, not a prototype', async () => {
    const r = await check({ 'spec.yaml': `${BASE}__proto__: { x: 1 }\n` });
    expect(r.text.split('\n')[0]).toBe('spec.yaml:7:1: error: unknown key `__proto__` in the spec');
  });

  it('a negative list index says which indexes exist', async () => {
    const r = await set('datasets.-1.root=/x');
    expect(
      r.text,
    ).toBe(`<command line>:1:16: error: cannot set \`-1\`: \`datasets\` is a list of 1 entry, so the index must be 0..0
  1 | --set datasets.-1.root=/x
    |                ^^

1 error
`);
  });

  it('an index past the end', async () => {
    const r = await check(
      {
        'spec.yaml': BASE.replace(
          '{ name: synthetic }',
          '{ name: synthetic }\n  - { name: synthetic, seed: 1 }',
        ),
      },
      { overrides: ['datasets.2.seed=3'] },
    );
    expect(r.text.split('\n')[0]).toBe(
      '<command line>:1:16: error: cannot set `2`: `datasets` is a list of 2 entries, so the index must be 0..1',
    );
  });

  it('a valid index works', async () => {
    const r = await set('datasets.0.seed=3');
    expect(r.ok).toBe(true);
    expect(firstConfig(r).dataset.seed).toBe(3);
  });

  it('include is rejected clearly', async () => {
    const r = await set('include=[other.yaml]');
    expect(
      r.text,
    ).toBe(`<command line>:1:7: error: include cannot be set from the command line; add it to the spec
  1 | --set include=[other.yaml]
    |       ^^^^^^^
  hint: fragments are merged before overrides apply, so the spec must list them under \`include:\`

1 error
`);
  });

  it('a path through a scalar', async () => {
    const r = await set('mllm.model.x=1');
    expect(r.text.split('\n')[0]).toBe(
      '<command line>:1:18: error: cannot set `x`: `mllm.model` is not a mapping',
    );
  });
});
