/** Reading spec files: YAML resource limits, aliases, merge keys, documents, encodings, includes. */
import { describe, expect, it } from 'vitest';
import { BASE, check } from './helpers.js';

describe('YAML resource limits', () => {
  it('an alias bomb is refused at the alias where the budget runs out', async () => {
    const bomb = [
      'report:',
      '  a: &a [x,x,x,x,x,x,x,x,x,x]',
      '  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      '  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      '  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      '  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      '  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      '  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      '  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      '',
    ].join('\n');
    const r = await check({ 'spec.yaml': BASE + bomb });
    expect(r.ok).toBe(false);
    expect(
      r.text,
    ).toBe(`spec.yaml:11:31: error: too many alias expansions: the aliases here copy more than 10000 values
  11 |   d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
     |                               ^^
  hint: each alias (*name) copies its anchored value; nested aliases multiply. Write the values out instead

1 error
`);
  });

  it('ordinary anchors and aliases still work', async () => {
    const r = await check({
      'spec.yaml': `${BASE}report: [ { figure: sensitivity, base: { mllm.temperature: &t 0.3 } } ]\nsweep: { points: [ {mllm.temperature: *t} ] }\n`,
    });
    expect(r.text).toBe('');
    expect(r.plan?.points.map((p) => p.params['mllm.temperature'])).toEqual([0.3]);
  });

  it('5000 levels of flow nesting: a clean error at the top-level key', async () => {
    const r = await check({ 'spec.yaml': `${BASE}report: ${'['.repeat(5000)}${']'.repeat(5000)}\n` });
    expect(r.text).toBe(`spec.yaml:7:1: error: nesting is too deep (more than 100 levels)
  7 | report: ${'['.repeat(152)}…
    | ^^^^^^
  hint: a spec needs only a few levels of maps and lists; look for unclosed brackets or runaway indentation

1 error
`);
  });

  it('500 levels of block nesting: the same error', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `${'  '.repeat(i + 1)}a${i}:`);
    const r = await check({ 'spec.yaml': `${BASE}report:\n${lines.join('\n')} 1\n` });
    expect(r.text).toContain(
      'spec.yaml:7:1: error: nesting is too deep (more than 100 levels)\n  7 | report:\n',
    );
  });
});

describe('YAML features a spec does not use', () => {
  it('an undefined alias names the anchor', async () => {
    const r = await check({ 'spec.yaml': `${BASE}report: *nope\n` });
    expect(r.text).toBe(`spec.yaml:7:9: error: undefined alias \`*nope\`: no anchor \`&nope\` before it
  7 | report: *nope
    |         ^^^^^
  hint: an alias can only refer to an anchor (&name) defined earlier in the same file

1 error
`);
  });

  it('an undefined alias in --set', async () => {
    const r = await check({ 'spec.yaml': BASE }, { overrides: ['report.a=*x'] });
    expect(r.text).toBe(`<command line>:1:16: error: undefined alias \`*x\`: no anchor \`&x\` before it
  1 | --set report.a=*x
    |                ^^
  hint: an alias can only refer to an anchor (&name) defined earlier in the same file

1 error
`);
  });

  it('merge keys: one error', async () => {
    const r = await check({
      'spec.yaml': BASE.replace(
        'mllm: { backend: dummy, model: m }',
        'mllm: { <<: *m, temperature: 0.2 }',
      ).replace('mode: t2i', 'mode: t2i\nreport: &m { backend: dummy, model: m }'),
    });
    expect(r.text).toBe(`spec.yaml:6:9: error: merge keys (<<) are not supported; write the keys out
  6 | mllm: { <<: *m, temperature: 0.2 }
    |         ^^
  hint: to share settings between specs, put them in a fragment and list it under \`include:\`

1 error
`);
  });

  it('a second document: advice for spec writers', async () => {
    const r = await check({ 'spec.yaml': `${BASE}---\n${BASE}` });
    expect(
      r.text,
    ).toBe(`spec.yaml:7:1: error: a spec file holds one YAML document, but this \`---\` starts a second one
  7 | ---
    | ^^^
  hint: remove the \`---\` separator; if the second document is another spec, move it into its own file (or into an include fragment)

1 error
`);
  });

  it('a leading --- and a trailing ... are one document', async () => {
    const r = await check({ 'spec.yaml': `---\n${BASE}...\n` });
    expect(r.ok).toBe(true);
  });

  it('an unclosed flow sequence is reported where it opens', async () => {
    const r = await check({ 'spec.yaml': BASE.replace('mode: t2i', 'mode: [t2i') });
    expect(r.text).toBe(`spec.yaml:4:7: error: YAML: this \`[\` is never closed
  4 | mode: [t2i
    |       ^
  hint: add the closing \`]\` (a flow list that continues on the next lines must be indented more than its key)

1 error
`);
  });
});

describe('encodings', () => {
  it('UTF-16', async () => {
    const r = await check({ 'spec.yaml': Buffer.from(`\ufeff${BASE}`, 'utf16le') });
    expect(r.text).toBe(`pefuse: error: spec.yaml: not a UTF-8 text file (it is UTF-16)
  hint: save the spec as UTF-8

1 error
`);
  });

  it('Latin-1: located at the first bad byte', async () => {
    const r = await check({
      'spec.yaml': Buffer.from(BASE.replace('experiment: t', 'experiment: café'), 'latin1'),
    });
    expect(r.text).toBe(`spec.yaml:1:16: error: not a UTF-8 text file (byte 0xE9 is not valid UTF-8; Latin-1?)
  1 | experiment: café
    |                ^
  hint: save the spec as UTF-8

1 error
`);
  });

  it('binary', async () => {
    const r = await check({ 'spec.yaml': Buffer.from([0x65, 0x78, 0, 1, 2, 0xff]) });
    expect(
      r.text,
    ).toBe(`pefuse: error: spec.yaml: not a UTF-8 text file (byte 2 is a NUL: a UTF-16 or binary file?)
  hint: save the spec as UTF-8

1 error
`);
  });

  it('a UTF-8 byte-order mark and CRLF line ends are fine', async () => {
    const r = await check({ 'spec.yaml': `\ufeff${BASE.replace(/\n/g, '\r\n')}` });
    expect(r.ok).toBe(true);
  });
});

describe('include fragments', () => {
  it('an empty fragment names the including spec', async () => {
    const r = await check({
      'spec.yaml': `include: [parts/empty.yaml]\n${BASE}`,
      'parts/empty.yaml': '# nothing\n',
    });
    expect(r.text).toBe(`spec.yaml:1:11: error: included fragment parts/empty.yaml is empty
  1 | include: [parts/empty.yaml]
    |           ^^^^^^^^^^^^^^^^
  hint: put the shared keys in parts/empty.yaml, or remove it from the \`include:\` list of spec.yaml

1 error
`);
  });

  it('a fragment that is a list', async () => {
    const r = await check({ 'spec.yaml': `include: [l.yaml]\n${BASE}`, 'l.yaml': '- a\n' });
    expect(r.text).toBe(`l.yaml:1:1: error: included fragment l.yaml must be a YAML mapping (key: value pairs)
  1 | - a
    | ^^^
  spec.yaml:1:11: note: included by spec.yaml here
    1 | include: [l.yaml]
      |           ^^^^^^

1 error
`);
  });

  it('a fragment that is not UTF-8', async () => {
    const r = await check({
      'spec.yaml': `include: [l.yaml]\n${BASE}`,
      'l.yaml': Buffer.from([0xff, 0xfe, 0x61, 0]),
    });
    expect(
      r.text,
    ).toBe(`spec.yaml:1:11: error: included fragment l.yaml is not a UTF-8 text file (it is UTF-16)
  1 | include: [l.yaml]
    |           ^^^^^^
  hint: save the fragment as UTF-8

1 error
`);
  });
});
