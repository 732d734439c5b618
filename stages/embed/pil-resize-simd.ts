/**
 * The two passes of the Pillow-exact resize (pil-resize.ts) as WebAssembly SIMD, written out here as
 * bytes (no toolchain, nothing compiled elsewhere): the same int32 arithmetic, four lanes at a time.
 *
 * - horizontal: per output pixel, its three channels in one i32x4 (the fourth lane is the next
 *   pixel's red, computed and dropped): per tap, 8 bytes loaded and widened, times the weight, added.
 * - vertical: eight output values at a time in two i32x4, per tap one 8-byte load.
 * - the end of both: `>> 22` (arithmetic), then saturating narrows to i16 and to u8, which is
 *   Pillow's clip8 (clamp to 0…255) exactly.
 *
 * i32x4 multiply and add wrap modulo 2^32 like `Math.imul` and `| 0` (and Pillow's int32 sums do not
 * overflow), so the bytes equal the JavaScript passes'. test/stages/embed/pil-resize.test.ts checks
 * both against Pillow. Loads read up to 8 bytes past a row; every buffer here has 16 spare bytes.
 */

// Opcodes (WebAssembly core and the fixed-width SIMD proposal, prefix 0xfd).
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  get: 0x20,
  set: 0x21,
  i32Load: 0x28,
  i64Store: 0x37,
  i32Store8: 0x3a,
  i32Store16: 0x3b,
  i32Const: 0x41,
  i32GeS: 0x4e,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32ShrU: 0x76,
  void: 0x40,
  i32: 0x7f,
  v128: 0x7b,
} as const;
const SIMD = {
  load8x8u: 0x02,
  i32x4Splat: 0x11,
  i32x4ExtractLane: 0x1b,
  i64x2ExtractLane: 0x1d,
  i8x16NarrowI16x8U: 0x66,
  i16x8NarrowI32x4S: 0x85,
  i32x4ExtendLowI16x8U: 0xa9,
  i32x4ExtendHighI16x8U: 0xaa,
  i32x4ShrS: 0xac,
  i32x4Add: 0xae,
  i32x4Mul: 0xb5,
} as const;

const PRECISION_BITS = 22;
const HALF = 2 ** (PRECISION_BITS - 1);

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const get = (l: number) => [OP.get, ...uleb(l)];
const set = (l: number) => [OP.set, ...uleb(l)];
const i32 = (v: number) => [OP.i32Const, ...sleb(v)];
/** `local += v` for an i32 local. */
const addTo = (l: number, v: number[]) => [...get(l), ...v, OP.i32Add, ...set(l)];
/** `loop while (a < b) { body }` on i32 locals/expressions. */
const whileLt = (a: number[], b: number[], body: number[]) => [
  OP.block,
  OP.void,
  OP.loop,
  OP.void,
  ...a,
  ...b,
  OP.i32GeS,
  OP.brIf,
  1,
  ...body,
  OP.br,
  0,
  OP.end,
  OP.end,
];
const load32 = (addr: number[]) => [...addr, OP.i32Load, 2, 0];
/** The clip8 of four sums, as bytes in the low lanes: (>> 22) → narrow i16 (signed) → narrow u8. */
const clip8x4 = (acc: number, acc2: number) => [
  ...get(acc),
  ...i32(PRECISION_BITS),
  ...simd(SIMD.i32x4ShrS),
  ...get(acc2),
  ...i32(PRECISION_BITS),
  ...simd(SIMD.i32x4ShrS),
  ...simd(SIMD.i16x8NarrowI32x4S),
  ...get(acc),
  ...simd(SIMD.i8x16NarrowI16x8U),
];

/**
 * h(src, width, y0, nRows, bounds, kk, ksize, cw, out): Pillow's horizontal pass of rows
 * [y0, y0 + nRows) into `cw` output columns (pointers are byte offsets in memory).
 */
function horizontalBody(): number[] {
  // params 0..8; locals: 9 y, 10 xx, 11 x, 12 xmax, 13 p, 14 k, 15 o, 16 row, 17 acc (v128)
  const [src, width, y0, nRows, bounds, kk, ksize, cw, out] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [y, xx, x, xmax, p, k, o, row, acc] = [9, 10, 11, 12, 13, 14, 15, 16, 17];
  const taps = whileLt(get(x), get(xmax), [
    ...get(acc),
    ...get(p),
    ...simd(SIMD.load8x8u, 0, 0),
    ...simd(SIMD.i32x4ExtendLowI16x8U),
    ...load32(get(k)),
    ...simd(SIMD.i32x4Splat),
    ...simd(SIMD.i32x4Mul),
    ...simd(SIMD.i32x4Add),
    ...set(acc),
    ...addTo(p, i32(3)),
    ...addTo(k, i32(4)),
    ...addTo(x, i32(1)),
  ]);
  const columns = whileLt(get(xx), get(cw), [
    // p = row + bounds[2 xx] * 3; xmax = bounds[2 xx + 1]; k = kk + xx * ksize * 4
    ...get(row),
    ...load32([...get(bounds), ...get(xx), ...i32(8), OP.i32Mul, OP.i32Add]),
    ...i32(3),
    OP.i32Mul,
    OP.i32Add,
    ...set(p),
    ...load32([...get(bounds), ...get(xx), ...i32(8), OP.i32Mul, OP.i32Add, ...i32(4), OP.i32Add]),
    ...set(xmax),
    ...get(kk),
    ...get(xx),
    ...get(ksize),
    OP.i32Mul,
    ...i32(4),
    OP.i32Mul,
    OP.i32Add,
    ...set(k),
    ...i32(HALF),
    ...simd(SIMD.i32x4Splat),
    ...set(acc),
    ...i32(0),
    ...set(x),
    ...taps,
    // three bytes out: store16 of lanes 0-1, store8 of lane 2
    ...get(o),
    ...clip8x4(acc, acc),
    ...simd(SIMD.i32x4ExtractLane, 0),
    OP.i32Store16,
    0,
    0,
    ...get(o),
    ...i32(2),
    OP.i32Add,
    ...clip8x4(acc, acc),
    ...simd(SIMD.i32x4ExtractLane, 0),
    ...i32(16),
    OP.i32ShrU,
    OP.i32Store8,
    0,
    0,
    ...addTo(o, i32(3)),
    ...addTo(xx, i32(1)),
  ]);
  const rows = whileLt(get(y), get(nRows), [
    // row = src + (y + y0) * width * 3; o = out + y * cw * 3
    ...get(src),
    ...get(y),
    ...get(y0),
    OP.i32Add,
    ...get(width),
    OP.i32Mul,
    ...i32(3),
    OP.i32Mul,
    OP.i32Add,
    ...set(row),
    ...get(out),
    ...get(y),
    ...get(cw),
    OP.i32Mul,
    ...i32(3),
    OP.i32Mul,
    OP.i32Add,
    ...set(o),
    ...i32(0),
    ...set(xx),
    ...columns,
    ...addTo(y, i32(1)),
  ]);
  const locals = [2, ...uleb(8), OP.i32, ...uleb(1), OP.v128];
  return [...locals, ...i32(0), ...set(y), ...rows, OP.end];
}

/**
 * v(rows, rowW, x0, cw, yShift, bounds, kk, ksize, nOut, out): Pillow's vertical pass, eight output
 * values at a time (`cw * 3` must be a multiple of 8, else the caller uses the JavaScript pass).
 */
function verticalBody(): number[] {
  // params 0..9; locals: 10 yy, 11 i, 12 y, 13 ymax, 14 p, 15 k, 16 base, 17 o, 18 n, 19 stride,
  // 20 kb, 21 a0 (v128), 22 a1 (v128), 23 px (v128), 24 w (v128)
  const [rows, rowW, x0, cw, yShift, bounds, kk, ksize, nOut, out] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [yy, i, y, ymax, p, k, base, o, n, stride, kb] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const [a0, a1, px, w] = [21, 22, 23, 24];
  const taps = whileLt(get(y), get(ymax), [
    ...get(p),
    ...simd(SIMD.load8x8u, 0, 0),
    ...set(px),
    ...load32(get(k)),
    ...simd(SIMD.i32x4Splat),
    ...set(w),
    ...get(a0),
    ...get(px),
    ...simd(SIMD.i32x4ExtendLowI16x8U),
    ...get(w),
    ...simd(SIMD.i32x4Mul),
    ...simd(SIMD.i32x4Add),
    ...set(a0),
    ...get(a1),
    ...get(px),
    ...simd(SIMD.i32x4ExtendHighI16x8U),
    ...get(w),
    ...simd(SIMD.i32x4Mul),
    ...simd(SIMD.i32x4Add),
    ...set(a1),
    ...addTo(p, get(stride)),
    ...addTo(k, i32(4)),
    ...addTo(y, i32(1)),
  ]);
  const values = whileLt(get(i), get(n), [
    ...i32(HALF),
    ...simd(SIMD.i32x4Splat),
    ...set(a0),
    ...i32(HALF),
    ...simd(SIMD.i32x4Splat),
    ...set(a1),
    ...get(base),
    ...get(i),
    OP.i32Add,
    ...set(p),
    ...get(kb),
    ...set(k),
    ...i32(0),
    ...set(y),
    ...taps,
    // eight bytes out (the low half of the narrowed vector)
    ...get(o),
    ...get(i),
    OP.i32Add,
    ...clip8x4(a0, a1),
    ...simd(SIMD.i64x2ExtractLane, 0),
    OP.i64Store,
    0,
    0,
    ...addTo(i, i32(8)),
  ]);
  const outRows = whileLt(get(yy), get(nOut), [
    // ymax = bounds[2 yy + 1]; base = rows + ((bounds[2 yy] - yShift) * rowW + x0) * 3
    ...load32([...get(bounds), ...get(yy), ...i32(8), OP.i32Mul, OP.i32Add, ...i32(4), OP.i32Add]),
    ...set(ymax),
    ...get(rows),
    ...load32([...get(bounds), ...get(yy), ...i32(8), OP.i32Mul, OP.i32Add]),
    ...get(yShift),
    OP.i32Sub,
    ...get(rowW),
    OP.i32Mul,
    ...get(x0),
    OP.i32Add,
    ...i32(3),
    OP.i32Mul,
    OP.i32Add,
    ...set(base),
    ...get(kk),
    ...get(yy),
    ...get(ksize),
    OP.i32Mul,
    ...i32(4),
    OP.i32Mul,
    OP.i32Add,
    ...set(kb),
    ...get(out),
    ...get(yy),
    ...get(n),
    OP.i32Mul,
    OP.i32Add,
    ...set(o),
    ...i32(0),
    ...set(i),
    ...values,
    ...addTo(yy, i32(1)),
  ]);
  const locals = [2, ...uleb(11), OP.i32, ...uleb(4), OP.v128];
  return [
    ...locals,
    ...get(cw),
    ...i32(3),
    OP.i32Mul,
    ...set(n),
    ...get(rowW),
    ...i32(3),
    OP.i32Mul,
    ...set(stride),
    ...i32(0),
    ...set(yy),
    ...outRows,
    OP.end,
  ];
}

function moduleBytes(): Uint8Array {
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'ascii')];
  const funcType = (params: number) => [0x60, ...uleb(params), ...Array(params).fill(OP.i32), 0];
  const bodies = [horizontalBody(), verticalBody()];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([funcType(9), funcType(10)])),
    // the memory is the caller's (env.mem), so it can grow it
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [1]])),
    ...section(
      7,
      vec([
        [...name('h'), 0x00, 0],
        [...name('v'), 0x00, 1],
      ]),
    ),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
  ]);
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

export interface SimdPasses {
  memory: WasmMemory;
  h: (...args: number[]) => void;
  v: (...args: number[]) => void;
}

let passes: SimdPasses | null | undefined;

/** The compiled passes, or null where WebAssembly SIMD is not available (the JavaScript passes run). */
export function simdPasses(): SimdPasses | null {
  if (passes !== undefined) return passes;
  const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (!wasm) throw new Error('no WebAssembly');
    const memory = new wasm.Memory({ initial: 1 });
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()), { env: { mem: memory } });
    const { h, v } = instance.exports as unknown as Pick<SimdPasses, 'h' | 'v'>;
    passes = { memory, h, v };
  } catch {
    passes = null;
  }
  return passes;
}
