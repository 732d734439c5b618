/**
 * NumPy `.npy` (format 1.0/2.0/3.0) reading and writing for 1-D/2-D float32, float64, int32 and int64
 * arrays, C order, little-endian. Used for embedding matrices in the store and for `--scores` files.
 */
import { err, ok, type Result } from './result.js';

export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8';
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Human names of the supported dtypes, for messages. */
export const NPY_DTYPE_NAMES: Record<NpyDtype, string> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i4': 'int32',
  '<i8': 'int64',
};

export interface ParseNpyOptions {
  /**
   * The dtypes the caller accepts (default: all four). A file of another dtype gets ONE message naming
   * exactly these, so a caller such as `--scores` (floats only) never says int32 is fine and then refuses it.
   */
  dtypes?: readonly NpyDtype[];
}

function listNames(names: readonly string[]): string {
  return names.length <= 1
    ? (names[0] ?? '')
    : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/**
 * Parses a whole `.npy` file. The data must be exactly `prod(shape) * itemsize` bytes: a shorter file is
 * truncated, a longer one has a header whose shape does not describe the data (both are refused).
 */
export function parseNpy(buf: Uint8Array, opts: ParseNpyOptions = {}): Result<NpyArray, string> {
  const allowed = opts.dtypes ?? (['<f4', '<f8', '<i4', '<i8'] as const);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) return err('not a NumPy .npy file (bad magic)');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else return err(`unsupported .npy format version ${major}`);
  const header = new TextDecoder('latin1').decode(buf.subarray(offset, offset + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    return err('malformed .npy header');
  if (fortran === 'True') return err('Fortran-ordered .npy arrays are not supported (save with C order)');
  const dtype = descr.replace(/^\|/, '<') as NpyDtype;
  if (!allowed.includes(dtype)) {
    const known = NPY_DTYPE_NAMES[dtype] as string | undefined;
    return err(
      `unsupported .npy dtype ${known !== undefined ? `${known} (${descr})` : descr}: expected ` +
        `${listNames(allowed.map((d) => NPY_DTYPE_NAMES[d]))}, little-endian`,
    );
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((n) => !Number.isInteger(n) || n < 0)) return err(`malformed .npy shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = offset + headerLen;
  const itemSize = dtype === '<f8' || dtype === '<i8' ? 8 : 4;
  if (buf.length - dataStart < count * itemSize)
    return err(
      `truncated .npy file: expected ${count * itemSize} data bytes, found ${buf.length - dataStart}`,
    );
  if (buf.length - dataStart > count * itemSize)
    return err(
      `${buf.length - dataStart - count * itemSize} trailing bytes after the .npy data (the header's shape ` +
        `(${shape.join(', ')}) needs ${count * itemSize} data bytes, the file has ${buf.length - dataStart}); ` +
        'save it again with numpy.save',
    );
  // A view into the input when the data is aligned for its type (NumPy pads headers to 64 bytes, and
  // large files read with readFile own their buffer), else a copy. Mind the input's byteOffset: a
  // small Node Buffer is a view into a shared pool.
  const start = buf.byteOffset + dataStart;
  const aligned = start % itemSize === 0;
  const backing = aligned
    ? buf.buffer
    : new Uint8Array(buf.subarray(dataStart, dataStart + count * itemSize)).buffer;
  const viewOffset = aligned ? start : 0;
  const data =
    dtype === '<f4'
      ? new Float32Array(backing, viewOffset, count)
      : dtype === '<f8'
        ? new Float64Array(backing, viewOffset, count)
        : dtype === '<i4'
          ? new Int32Array(backing, viewOffset, count)
          : new BigInt64Array(backing, viewOffset, count);
  return ok({ dtype, shape, data });
}

export function encodeNpy(arr: NpyArray): Uint8Array {
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${arr.dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that the data starts on a 64-byte boundary (as NumPy does), newline-terminated.
  const pre = 10;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const body = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(total + body.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(body, total);
  return out;
}
