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
