/** `${env:VAR}` substitution: malformed references, nested defaults, typing, one error per place. */
import { describe, expect, it } from 'vitest';
import { BASE, check, firstConfig } from './helpers.js';

const withTemp = (value: string) =>
  BASE.replace(
    'mllm: { backend: dummy, model: m }',
    `mllm:\n  backend: dummy\n  model: m\n  temperature: ${value}`,
  );

describe('${env:…}', () => {
  it('an unquoted reference is typed like YAML: 0.5 is a number', async () => {
    const r = await check({ 'spec.yaml': withTemp('${env:T}') }, { env: { T: '0.5' } });
    expect(r.text).toBe('');
    expect(firstConfig(r).mllm?.temperature).toBe(0.5);
  });

  it('a quoted reference stays a string, and the type error says why', async () => {
    const r = await check({ 'spec.yaml': withTemp('"${env:T}"') }, { env: { T: '0.5' } });
    expect(r.text).toBe(`spec.yaml:8:16: error: \`mllm.temperature\` must be a number (got the string "0.5")
  8 |   temperature: "\${env:T}"
    |                ^^^^^^^^^^
  hint: a quoted value stays a string after \${env:…} substitution; write it unquoted to get a number or boolean

1 error
`);
  });

  it('an unset variable is reported once (no second schema error on the literal text)', async () => {
    const r = await check({ 'spec.yaml': withTemp('${env:PEFUSE_UNSET_T}') });
    expect(r.text).toBe(`spec.yaml:8:16: error: environment variable PEFUSE_UNSET_T is not set
  8 |   temperature: \${env:PEFUSE_UNSET_T}
    |                ^^^^^^^^^^^^^^^^^^^^^
  hint: export PEFUSE_UNSET_T=… before running, or give a default: \${env:PEFUSE_UNSET_T:-/path}

1 error
`);
  });

  it('nested defaults: the first set variable wins', async () => {
    const spec = BASE.replace(
      '{ name: synthetic }',
      '{ name: circo, root: "${env:A:-${env:B:-/data}}/circo" }',
    );
    const root = async (env: Record<string, string>) =>
      firstConfig(await check({ 'spec.yaml': spec }, { env })).dataset.root;
    expect(await root({ A: '/a', B: '/b' })).toBe('/a/circo');
    expect(await root({ B: '/b' })).toBe('/b/circo');
    expect(await root({})).toBe('/data/circo');
  });

  it('a nested default whose variable is unset names that variable', async () => {
    const r = await check({ 'spec.yaml': withTemp('${env:PEFUSE_UNSET_A:-${env:PEFUSE_UNSET_B}}') });
    expect(r.text).toContain('spec.yaml:8:16: error: environment variable PEFUSE_UNSET_B is not set\n');
  });

  it.each([
    ['${env:}', '`${env:}` names no environment variable', 'write ${env:VAR} or ${env:VAR:-default}'],
    [
      '"${env:A B}/x"',
      '`${env:A B}`: `A B` is not an environment variable name',
      'names use letters, digits and _ and do not start with a digit',
    ],
    ['${env:T', 'unterminated `${env:T`: missing the closing `}`', 'write ${env:T}'],
    ['a${env:T:-b', 'unterminated `${env:T:-b`: missing the closing `}`', 'write ${env:T:-default}'],
  ])('malformed %s is a located error', async (value, message, hint) => {
    const r = await check({ 'spec.yaml': withTemp(value) }, { env: { T: '1' } });
    expect(r.ok).toBe(false);
    const lines = r.text.split('\n');
    expect(lines[0]).toBe(`spec.yaml:8:16: error: ${message}`);
    expect(lines[3]).toBe(`  hint: ${hint}`);
    expect(r.text).toMatch(/\n1 error\n$/);
  });

  it('inside { } an unquoted reference is a YAML error with a quoting hint', async () => {
    const r = await check({
      'spec.yaml': BASE.replace(
        'mllm: { backend: dummy, model: m }',
        'mllm: { backend: dummy, model: m, temperature: ${env:T} }',
      ),
    });
    expect(r.text).toContain(
      '  hint: inside `{ }` or `[ ]`, quote values that contain braces, e.g. "${env:VAR}"\n',
    );
  });
});
