import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCacheRoot, resolveDbFile } from '../../../runner/store/index.js';
import { freshStore, keyOf, manifest } from './helpers.js';

describe('stage manifests', () => {
  it('publishes atomically and reads the manifest back', async () => {
    const store = freshStore();
    const key = keyOf('m1');
    expect(await store.stages.readManifest(key)).toEqual({ ok: true, value: null });
    expect(await store.stages.isPublished(key)).toBe(false);
    const m = manifest(key, { matrix: { sha256: keyOf('obj'), size: 10 } });
    await store.stages.publish(m);
    expect(await store.stages.readManifest(key)).toEqual({ ok: true, value: m });
    expect(await store.stages.list()).toEqual([key]);
  });

  it('treats a corrupt manifest as not published and says so', async () => {
    const store = freshStore();
    const key = keyOf('m2');
    mkdirSync(store.stages.dirOf(key), { recursive: true });
    writeFileSync(join(store.stages.dirOf(key), 'manifest.json'), '{"format":"pefuse-stage/1","key":');
    const r = await store.stages.readManifest(key);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe('cache-corrupt');
      expect(r.error.message).toBe(
        `stage ${key.slice(0, 12)}: manifest is unreadable (not valid JSON); the stage will be recomputed`,
      );
    }
    expect(await store.stages.isPublished(key)).toBe(false);
    // Publishing again repairs it.
    await store.stages.publish(manifest(key));
    expect(await store.stages.isPublished(key)).toBe(true);
  });

  it('rejects a manifest that belongs to another key', async () => {
    const store = freshStore();
    const key = keyOf('m3');
    mkdirSync(store.stages.dirOf(key), { recursive: true });
    writeFileSync(join(store.stages.dirOf(key), 'manifest.json'), JSON.stringify(manifest(keyOf('other'))));
    const r = await store.stages.readManifest(key);
    expect(!r.ok && r.error.message).toContain('(key does not match its directory)');
  });
});

describe('cache and database locations', () => {
  it('prefers --cache, then $PEFUSE_CACHE, then ./cache', () => {
    expect(resolveCacheRoot({ flag: 'c1', env: { PEFUSE_CACHE: '/e' }, cwd: '/w' })).toBe('/w/c1');
    expect(resolveCacheRoot({ flag: undefined, env: { PEFUSE_CACHE: '/e' }, cwd: '/w' })).toBe('/e');
    expect(resolveCacheRoot({ env: {}, cwd: '/w' })).toBe('/w/cache');
    expect(resolveDbFile({ cacheRoot: '/w/cache', cwd: '/w' })).toBe('/w/cache/results.duckdb');
    expect(resolveDbFile({ flag: 'r.duckdb', cacheRoot: '/w/cache', cwd: '/w' })).toBe('/w/r.duckdb');
  });
});
