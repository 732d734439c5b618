/**
 * Images as base64 data URIs, encoded on demand (never the whole gallery in memory): a bounded LRU
 * cache by encoded size (CIRR reuses reference images across queries), one read per path even when
 * several requests want it at once, and an optional downscale to `max_image_side` (longer side, aspect
 * kept, never enlarged) with sharp, imported lazily the first time an image needs it.
 */
import { readFile } from 'node:fs/promises';
import { type Failure, failure } from '../../runner/contract/failure.js';
import { err, ok, type Result } from '../../runner/util/result.js';

/** The image type from its first bytes; null when it is none the servers take. */
export function sniffImageType(b: Uint8Array): 'png' | 'jpeg' | 'webp' | 'gif' | 'bmp' | null {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'jpeg';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45)
    return 'webp';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'gif';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return null;
}

type SharpModule = typeof import('sharp');
let sharpModule: Promise<SharpModule> | undefined;
function loadSharp(): Promise<SharpModule> {
  sharpModule ??= import('sharp') as Promise<SharpModule>;
  return sharpModule;
}

export interface EncoderOptions {
  /** Longer side in pixels above which images are downscaled; undefined: sent as they are. */
  maxSide?: number | undefined;
  /** Cache budget in characters of data URI (default 64 MiB). */
  cacheChars?: number;
}

export class ImageEncoder {
  readonly #maxSide: number | undefined;
  readonly #budget: number;
  readonly #cache = new Map<string, string>();
  readonly #pending = new Map<string, Promise<Result<string, Failure>>>();
  #chars = 0;
  /** Images encoded (not served from the cache), and how many of those were downscaled. */
  encoded = 0;
  downscaled = 0;

  constructor(opts: EncoderOptions = {}) {
    this.#maxSide = opts.maxSide;
    this.#budget = opts.cacheChars ?? 64 * 1024 * 1024;
  }

  /**
   * The data URI of the image at `path`; with `bbox` (GeneCIS attribute tasks), of the benchmark's crop
   * around that box, as the retrieval model sees it.
   */
  dataUri(file: string, bbox?: readonly [number, number, number, number]): Promise<Result<string, Failure>> {
    const path = bbox ? `${file}#${bbox.join(',')}` : file;
    const hit = this.#cache.get(path);
    if (hit !== undefined) {
      this.#cache.delete(path);
      this.#cache.set(path, hit);
      return Promise.resolve(ok(hit));
    }
    let p = this.#pending.get(path);
    if (!p) {
      p = this.#encode(file, bbox).then((r) => {
        this.#pending.delete(path);
        if (r.ok) this.#remember(path, r.value);
        return r;
      });
      this.#pending.set(path, p);
    }
    return p;
  }

  #remember(path: string, uri: string): void {
    if (uri.length > this.#budget) return;
    this.#cache.set(path, uri);
    this.#chars += uri.length;
    for (const [k, v] of this.#cache) {
      if (this.#chars <= this.#budget) break;
      this.#cache.delete(k);
      this.#chars -= v.length;
    }
  }

  async #encode(
    path: string,
    bbox?: readonly [number, number, number, number],
  ): Promise<Result<string, Failure>> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
      if (bbox) {
        const { renderGenecisCrop } = await import('../datasets/genecis-crop.js');
        const crop = await renderGenecisCrop(path, bbox);
        if (!crop.ok) return err(failure('bad-input', `image ${path}: ${crop.error}`));
        bytes = crop.value;
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return err(
        failure(
          code === 'ENOENT' ? 'input-missing' : 'bad-input',
          `image cannot be read: ${path} (${code ?? e})`,
        ),
      );
    }
    let type = sniffImageType(bytes);
    if (type === null) return err(failure('bad-input', `not a PNG, JPEG, WebP, GIF or BMP image: ${path}`));
    if (this.#maxSide !== undefined) {
      const r = await this.#downscale(bytes, type, this.#maxSide, path);
      if (!r.ok) return r;
      bytes = r.value.bytes;
      type = r.value.type;
    }
    this.encoded++;
    return ok(
      `data:image/${type};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`,
    );
  }

  async #downscale(
    bytes: Uint8Array,
    type: NonNullable<ReturnType<typeof sniffImageType>>,
    side: number,
    path: string,
  ): Promise<Result<{ bytes: Uint8Array; type: NonNullable<ReturnType<typeof sniffImageType>> }, Failure>> {
    const sharp = (await loadSharp()).default;
    try {
      const img = sharp(bytes, { failOn: 'error' });
      const meta = await img.metadata();
      const w = meta.width ?? 0;
      const h = meta.height ?? 0;
      if (w <= side && h <= side) return ok({ bytes, type });
      const resized = img
        .rotate()
        .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true });
      // JPEG stays JPEG (PNG would be several times larger); everything else becomes lossless PNG.
      const out =
        type === 'jpeg'
          ? await resized.jpeg({ quality: 95 }).toBuffer()
          : await resized.png({ compressionLevel: 3 }).toBuffer();
      this.downscaled++;
      return ok({ bytes: out, type: type === 'jpeg' ? 'jpeg' : 'png' });
    } catch (e) {
      return err(
        failure('bad-input', `image cannot be decoded: ${path} (${e instanceof Error ? e.message : e})`),
      );
    }
  }
}
