import { describe, expect, it } from 'vitest';
import { canonicalJson, jsonEqual, sha256Hex } from '../../../runner/util/json.js';

describe('canonicalJson', () => {
  it('sorts keys and canonicalises numbers', () => {
    expect(canonicalJson({ b: 1.0, a: [1, 'x', null, true] })).toBe('{"a":[1,"x",null,true],"b":1}');
    expect(jsonEqual({ x: 1 }, { x: 1.0 })).toBe(true);
    expect(jsonEqual({ x: 1 }, { x: '1' })).toBe(false);
    expect(canonicalJson(-0)).toBe('0');
  });
  it('hashes with sha256', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('stageKeyOf', () => {
  it('equals sha256 of the canonical JSON of the record', async () => {
    const { stageKeyOf } = await import('../../../runner/plan/keys.js');
    const record = {
      scheme: 1,
      kind: 'score' as const,
      impl_version: 2,
      params: { k: 50, rules: 'cirr', x: [1, { b: 2, a: 1 }] },
      model: { backend: 'onnx', files: { 'b.onnx': 'x', 'a.onnx': 'y' } },
      inputs: { queries: 'q'.repeat(64), dataset: 'd'.repeat(64) } as never,
      data: null,
    };
    expect(stageKeyOf(record)).toBe(sha256Hex(canonicalJson(record as never)));
  });
});
