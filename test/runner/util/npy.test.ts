import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../../../runner/util/npy.js';

describe('npy', () => {
  it('round-trips a float32 matrix', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const buf = encodeNpy({ dtype: '<f4', shape: [2, 3], data });
    const r = parseNpy(buf);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.shape).toEqual([2, 3]);
    expect(Array.from(r.value.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('rejects garbage with a message', () => {
    const r = parseNpy(new Uint8Array([1, 2, 3]));
    expect(r).toEqual({ ok: false, error: 'not a NumPy .npy file (bad magic)' });
  });
});

describe('npy from a Node Buffer', () => {
  it('reads the right bytes when the Buffer is a view into a larger pool', async () => {
    const { writeFileSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(tmpdir(), `pefuse-npy-${process.pid}.npy`);
    writeFileSync(
      file,
      encodeNpy({ dtype: '<f8', shape: [3], data: new Float64Array([1.5, Number.NaN, -2]) }),
    );
    const r = parseNpy(Buffer.concat([Buffer.alloc(0), readFileSync(file)]));
    expect(r.ok).toBe(true);
    if (r.ok) expect(Array.from(r.value.data as Float64Array)).toEqual([1.5, Number.NaN, -2]);
  });
});
