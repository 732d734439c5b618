/** Shared fixtures for the store tests: a fresh store in a temp dir, keys, manifests. */
import { hostname } from 'node:os';
import type { KeyRecord, StageKey } from '../../../runner/contract/stage.js';
import { type FsStore, MANIFEST_FORMAT, openStore } from '../../../runner/store/index.js';
import type { ItemRecord, StageManifest } from '../../../runner/store/types.js';
import { type JsonValue, sha256Hex } from '../../../runner/util/json.js';
import { tempDir } from '../../helpers/cli.js';

export function freshStore(): FsStore {
  return openStore(tempDir('pefuse-store-'));
}

export function keyOf(name: string): StageKey {
  return sha256Hex(name) as StageKey;
}

export function record(kind: KeyRecord['kind'] = 'embed.text', params: KeyRecord['params'] = {}): KeyRecord {
  return { scheme: 1, kind, impl_version: 1, params, model: 'dummy', inputs: {}, data: null };
}

export function manifest(key: StageKey, output: JsonValue = null, items: ItemRecord[] = []): StageManifest {
  return {
    format: MANIFEST_FORMAT,
    key,
    record: record(),
    items,
    output,
    seconds: 1.5,
    host: hostname(),
    device: null,
    peak_mem_mb: null,
    attempts: 1,
    finished_at: new Date().toISOString(),
  };
}
