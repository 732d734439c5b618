import { appendFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../../runner/store/index.js';
import type { ItemRecord } from '../../../runner/store/types.js';
import { freshStore, keyOf, manifest } from './helpers.js';

const item = (id: string, seconds = 0.1): ItemRecord => ({ id, output: { text: `caption ${id}` }, seconds });

describe('stage journal', () => {
  it('journals items durably and reads them back in order', async () => {
    const store = freshStore();
    const j = store.stages.journal(keyOf('s1'));
    await j.append(item('q1'));
    await j.append(item('q2'));
    expect(await j.read()).toEqual([item('q1'), item('q2')]);
  });

  it('batches concurrent appends and loses none', async () => {
    const store = freshStore();
    const key = keyOf('s2');
    const j = store.stages.journal(key);
    await Promise.all(Array.from({ length: 200 }, (_, i) => j.append(item(`q${i}`))));
    const got = await j.read();
    expect(got.map((x) => x.id).sort()).toEqual(Array.from({ length: 200 }, (_, i) => `q${i}`).sort());
    expect(readFileSync(join(store.stages.dirOf(key), 'journal.jsonl'), 'utf8').split('\n')).toHaveLength(
      201,
    );
  });

  it('drops a torn last line (file truncated mid-line) and keeps the lines before it', async () => {
    const store = freshStore();
    const key = keyOf('s3');
    const j = store.stages.journal(key);
    for (const id of ['q1', 'q2', 'q3']) await j.append(item(id));
    const path = join(store.stages.dirOf(key), 'journal.jsonl');
    const size = readFileSync(path).byteLength;
    truncateSync(path, size - 15);
    const r = await j.readDetailed();
    expect(r.items.map((x) => x.id)).toEqual(['q1', 'q2']);
    expect(r.dropped).toBe(1);
    // A resumed run appends on a fresh line: its item is not glued to the torn one.
    const resumed = openStore(store.root).stages.journal(key);
    await resumed.append(item('q3'));
    await resumed.append(item('q4'));
    expect((await resumed.read()).map((x) => x.id)).toEqual(['q1', 'q2', 'q3', 'q4']);
  });

  it('drops a corrupt line in the middle and still counts the valid lines after it', async () => {
    const store = freshStore();
    const key = keyOf('s4');
    const j = store.stages.journal(key);
    await j.append(item('q1'));
    const path = join(store.stages.dirOf(key), 'journal.jsonl');
    appendFileSync(path, '0123456789abcdef {"id":"bogus","output":null,"seconds":1}\n');
    appendFileSync(path, 'not a journal line\n');
    await j.append(item('q2'));
    const r = await j.readDetailed();
    expect(r.items.map((x) => x.id)).toEqual(['q1', 'q2']);
    expect(r.dropped).toBe(2);
  });

  it('keeps the last line for an item journaled twice', async () => {
    const store = freshStore();
    const j = store.stages.journal(keyOf('s5'));
    await j.append(item('q1', 1));
    await j.append(item('q1', 2));
    expect(await j.read()).toEqual([item('q1', 2)]);
  });

  it('reads an absent journal as empty, and publish removes the journal', async () => {
    const store = freshStore();
    const key = keyOf('s6');
    expect(await store.stages.journal(key).read()).toEqual([]);
    await store.stages.journal(key).append(item('q1'));
    await store.stages.publish(manifest(key, null, [item('q1')]));
    expect(await store.stages.journal(key).read()).toEqual([]);
    expect(await store.stages.isPublished(key)).toBe(true);
  });

  it('treats an empty-but-present journal file as empty', async () => {
    const store = freshStore();
    const key = keyOf('s7');
    await store.stages.journal(key).append(item('q1'));
    writeFileSync(join(store.stages.dirOf(key), 'journal.jsonl'), '');
    expect(await store.stages.journal(key).readDetailed()).toEqual({ items: [], dropped: 0 });
  });
});
