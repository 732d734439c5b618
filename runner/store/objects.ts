/**
 * Content-addressed objects: `objects/<aa>/<sha256>`, immutable. Written to `tmp/`, fsynced, renamed
 * into place; verified (size + sha256) on every read. A corrupt object is moved to `quarantine/` (so
 * the next run recomputes it and a human can still look at it) and reported as `cache-corrupt`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Failure, failure } from '../contract/failure.js';
import { sha256Hex } from '../util/json.js';
import { err, ok, type Result } from '../util/result.js';
import { isErrno, SHA256_RE, statOrNull, syncDir, tempPath, writeAtomic } from './fsutil.js';
import type { ObjectRef, ObjectStore } from './types.js';

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly quarantineDir: string;

  /** `storeRoot` is the store root (`cache/`); objects live under `<storeRoot>/objects`. */
  constructor(storeRoot: string) {
    this.root = join(storeRoot, 'objects');
    this.tmpDir = join(storeRoot, 'tmp');
    this.quarantineDir = join(storeRoot, 'quarantine');
  }

  pathOf(sha256: string): string {
    if (!SHA256_RE.test(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await statOrNull(this.pathOf(sha256))) !== null;
  }

  async put(data: Uint8Array | string): Promise<ObjectRef> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const ref: ObjectRef = { sha256: sha256Hex(bytes), size: bytes.byteLength };
    const target = this.pathOf(ref.sha256);
    if (await this.touchIfValid(target, ref.size)) return ref;
    await writeAtomic(target, bytes, this.tmpDir);
    return ref;
  }

  async putFile(path: string): Promise<ObjectRef> {
    const ref = await hashFile(path);
    const target = this.pathOf(ref.sha256);
    if (await this.touchIfValid(target, ref.size)) {
      await rm(path, { force: true });
      return ref;
    }
    await mkdir(dirname(target), { recursive: true });
    try {
      // Same filesystem: the worker's file becomes the object (it must not be written to afterwards).
      await rename(path, target);
    } catch (e) {
      if (!isErrno(e, 'EXDEV')) throw e;
      await mkdir(this.tmpDir, { recursive: true });
      const tmp = tempPath(this.tmpDir, 'copy');
      await copyFile(path, tmp);
      const copied = await hashFile(tmp);
      if (copied.sha256 !== ref.sha256) {
        await rm(tmp, { force: true });
        throw new Error(`putFile: ${path} changed while it was being copied into the store`);
      }
      await rename(tmp, target);
      await rm(path, { force: true });
    }
    await syncDir(dirname(target));
    return ref;
  }

  async read(ref: ObjectRef): Promise<Result<Uint8Array, Failure>> {
    const path = this.pathOf(ref.sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        return err(
          failure(
            'input-missing',
            `cached object ${ref.sha256.slice(0, 12)} is missing from the store (${path})`,
          ),
        );
      }
      throw e;
    }
    const problem =
      bytes.byteLength !== ref.size
        ? `size ${bytes.byteLength} instead of ${ref.size}`
        : sha256Hex(bytes) !== ref.sha256
          ? 'content does not match its sha256'
          : null;
    if (problem === null) return ok(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const moved = await this.quarantine(path, ref.sha256);
    return err(
      failure(
        'cache-corrupt',
        `cached object ${ref.sha256.slice(0, 12)} is corrupt (${problem}); it will be recomputed`,
        {
          detail: `moved to ${moved}`,
        },
      ),
    );
  }

  /** Verifies an object on disk and returns its path (for workers that read files directly). */
  async verifiedPath(ref: ObjectRef): Promise<Result<string, Failure>> {
    const r = await this.read(ref);
    return r.ok ? ok(this.pathOf(ref.sha256)) : r;
  }

  /** True when the object exists with the right size; refreshes its mtime so gc's grace period sees it as fresh. */
  private async touchIfValid(target: string, size: number): Promise<boolean> {
    const st = await statOrNull(target);
    if (st === null) return false;
    if (st.size !== size) {
      await this.quarantine(target, 'size-mismatch');
      return false;
    }
    const now = new Date();
    await utimes(target, now, now).catch(() => undefined);
    return true;
  }

  private async quarantine(path: string, name: string): Promise<string> {
    await mkdir(this.quarantineDir, { recursive: true });
    const dest = tempPath(this.quarantineDir, name);
    try {
      await rename(path, dest);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) await rm(path, { force: true });
    }
    return dest;
  }
}

/** Streams a file through sha256. */
export async function hashFile(path: string): Promise<ObjectRef> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    size += b.byteLength;
    hash.update(b);
  }
  return { sha256: hash.digest('hex'), size };
}
