import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../runner/util/json.js';
import { tempDir } from '../../helpers/cli.js';
import { freshStore } from './helpers.js';

describe('object store', () => {
  it('stores bytes under objects/<aa>/<sha256> and reads them back verified', async () => {
    const store = freshStore();
    const ref = await store.objects.put('hello objects');
    expect(ref).toEqual({ sha256: sha256Hex('hello objects'), size: 13 });
    expect(store.objects.pathOf(ref.sha256)).toBe(
      join(store.root, 'objects', ref.sha256.slice(0, 2), ref.sha256),
    );
    const r = await store.objects.read(ref);
    expect(r.ok && Buffer.from(r.value).toString()).toBe('hello objects');
    // Idempotent: same content, same ref, one file; no temp file left behind.
    expect(await store.objects.put(Buffer.from('hello objects'))).toEqual(ref);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });

  it('reports a corrupt object (one flipped byte) as cache-corrupt and moves it aside so it is recomputed', async () => {
    const store = freshStore();
    const ref = await store.objects.put('some embedding bytes');
    const path = store.objects.pathOf(ref.sha256);
    const bytes = readFileSync(path);
    bytes[3] = bytes[3]! ^ 0xff;
    writeFileSync(path, bytes);
    const r = await store.objects.read(ref);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.reason).toBe('cache-corrupt');
    expect(r.error.message).toBe(
      `cached object ${ref.sha256.slice(0, 12)} is corrupt (content does not match its sha256); it will be recomputed`,
    );
    expect(r.error.retryable).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(await store.objects.has(ref.sha256)).toBe(false);
    expect(readdirSync(join(store.root, 'quarantine'))).toHaveLength(1);
    // Recomputing puts it back.
    expect(await store.objects.put('some embedding bytes')).toEqual(ref);
    expect((await store.objects.read(ref)).ok).toBe(true);
  });

  it('reports a truncated object by its size', async () => {
    const store = freshStore();
    const ref = await store.objects.put('0123456789');
    writeFileSync(store.objects.pathOf(ref.sha256), '01234');
    const r = await store.objects.read(ref);
    expect(!r.ok && r.error.message).toBe(
      `cached object ${ref.sha256.slice(0, 12)} is corrupt (size 5 instead of 10); it will be recomputed`,
    );
  });

  it('reports a missing object as input-missing', async () => {
    const store = freshStore();
    const sha = sha256Hex('never stored');
    const r = await store.objects.read({ sha256: sha, size: 12 });
    expect(!r.ok && r.error.reason).toBe('input-missing');
    expect(!r.ok && r.error.message).toBe(
      `cached object ${sha.slice(0, 12)} is missing from the store (${store.objects.pathOf(sha)})`,
    );
  });

  it('moves a worker file in with putFile (the source is consumed)', async () => {
    const store = freshStore();
    const src = join(tempDir(), 'out.png');
    writeFileSync(src, 'png bytes');
    const ref = await store.objects.putFile(src);
    expect(ref).toEqual({ sha256: sha256Hex('png bytes'), size: 9 });
    expect(existsSync(src)).toBe(false);
    expect(readFileSync(store.objects.pathOf(ref.sha256), 'utf8')).toBe('png bytes');
    // A second identical file is dropped, the object stays.
    writeFileSync(src, 'png bytes');
    expect(await store.objects.putFile(src)).toEqual(ref);
    expect(existsSync(src)).toBe(false);
  });
});

describe('item cache', () => {
  it('round-trips item outputs and treats a damaged entry as a miss', async () => {
    const store = freshStore();
    const key = sha256Hex('item-1');
    expect(await store.items.get(key)).toBeUndefined();
    await store.items.put(key, { text: 'a red dress', tokens: 4 });
    expect(await store.items.get(key)).toEqual({ text: 'a red dress', tokens: 4 });
    const path = store.items.pathOf(key);
    writeFileSync(path, readFileSync(path, 'utf8').replace('red', 'blue'));
    expect(await store.items.get(key)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
  });
});
