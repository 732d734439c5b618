/** Parsing worker lines: what is accepted, and the exact reason quoted for what is not. */
import { describe, expect, it } from 'vitest';
import { lineSplitter } from '../../../runner/exec/lines.js';
import { encodeToWorker, parseFromWorker } from '../../../runner/exec/protocol.js';

describe('parseFromWorker', () => {
  it('accepts the four message types', () => {
    expect(parseFromWorker('{"type":"heartbeat"}')).toEqual({ ok: true, value: { type: 'heartbeat' } });
    expect(parseFromWorker('{"type":"result","id":"q1","output":{"text":"x"},"seconds":0.5}')).toEqual({
      ok: true,
      value: { type: 'result', id: 'q1', output: { text: 'x' }, seconds: 0.5 },
    });
    expect(parseFromWorker('{"type":"error","reason":"oom","message":"CUDA out of memory"}')).toEqual({
      ok: true,
      value: { type: 'error', reason: 'oom', message: 'CUDA out of memory' },
    });
    expect(
      parseFromWorker(
        '{"type":"ready","protocol":1,"identity":{"model":"m","backend":"b","versions":{"torch":2}}}',
      ),
    ).toEqual({
      ok: true,
      value: {
        type: 'ready',
        protocol: 1,
        identity: { model: 'm', backend: 'b', versions: { torch: '2' }, device: 'unknown' },
      },
    });
  });

  it('says what is wrong with anything else', () => {
    const why = (line: string) => {
      const r = parseFromWorker(line);
      return r.ok ? null : r.error;
    };
    expect(why('Loading weights...')).toBe(
      'stdout line is not JSON (stdout is reserved for protocol lines; log to stderr)',
    );
    expect(why('[1,2]')).toBe('stdout line is not a JSON object');
    expect(why('{"type":"result","output":1}')).toBe('"result" without a string "id"');
    expect(why('{"type":"result","id":"q1"}')).toBe('"result" for item q1 without an "output"');
    expect(why('{"type":"error","id":"q1","reason":"segfault"}')).toBe(
      '"error" with unknown reason "segfault" (allowed: oom, bad-input, input-missing, bad-output)',
    );
    expect(why('{"type":"ready","protocol":1}')).toBe(
      '"ready" without an "identity" {model, backend, versions, device}',
    );
    expect(why('{"type":"progress"}')).toBe('unknown message type "progress"');
  });

  it('reads an optional batch_size in ready (> 1 kept, 1 dropped, others refused)', () => {
    const ready = (bs: unknown) =>
      parseFromWorker(
        JSON.stringify({
          type: 'ready',
          protocol: 1,
          identity: { model: 'm', backend: 'b' },
          batch_size: bs,
        }),
      );
    const four = ready(4);
    expect(four.ok && four.value).toMatchObject({ type: 'ready', batch_size: 4 });
    const one = ready(1);
    expect(one.ok && 'batch_size' in one.value).toBe(false);
    for (const bad of [0, 2.5, 'x'])
      expect(ready(bad)).toEqual({ ok: false, error: expect.stringMatching(/batch_size/) });
    expect(encodeToWorker({ type: 'flush' })).toBe('{"type":"flush"}\n');
  });

  it('encodes one line per message', () => {
    expect(encodeToWorker({ type: 'item', id: 'q1', input: { a: 1 } })).toBe(
      '{"type":"item","id":"q1","input":{"a":1}}\n',
    );
  });
});

describe('lineSplitter', () => {
  it('joins lines split across chunks and drops \\r', () => {
    const lines: string[] = [];
    const s = lineSplitter((l) => lines.push(l));
    s.push('{"a":');
    s.push('1}\r\n{"b"');
    s.push(':2}\n\n{"c":3}');
    s.flush();
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '', '{"c":3}']);
  });
});
