import { describe, expect, it } from 'vitest';
import { PARAM_VALIDATORS } from '../../../runner/spec/compiled/params.js';
import { checkValue, SWEEPABLE_PATHS } from '../../../runner/sweep/params.js';

describe('sweepable paths and their build-time validators', () => {
  it('every sweepable path has a compiled validator', () => {
    expect(SWEEPABLE_PATHS.filter((p) => !Object.hasOwn(PARAM_VALIDATORS, p))).toEqual([]);
  });

  it('checks a swept value as the schema says', () => {
    expect(checkValue('mllm.temperature', 0.5)).toBeNull();
    expect(checkValue('mllm.temperature', -1)).toBe('must be >= 0');
    expect(checkValue('mllm.top_p', 0)).toBe('must be > 0');
    expect(checkValue('diffusion.steps', 2.5)).toBe('must be an integer');
    expect(checkValue('mode', 'x2y')).toBe('must be one of t2i, i2i, t2t, i2t');
    expect(checkValue('mllm.toString', 1)).toBeNull();
  });
});
