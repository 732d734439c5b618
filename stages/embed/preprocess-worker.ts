/**
 * Worker thread body for `preprocess-pool.ts`: decodes and resizes whole images off the main thread.
 * sharp runs with one libvips thread here: the pool's workers are the parallelism.
 */
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { decodeAndResize, ImageDecodeError, type PreprocessConfig } from './decode.js';

export interface PreprocessJob {
  id: number;
  input: Uint8Array | string;
  cfg: PreprocessConfig;
}

export type PreprocessReply =
  | { id: number; data: Uint8Array; size: number }
  | { id: number; error: string; decode: boolean };

sharp.concurrency(1);

parentPort?.on('message', (j: PreprocessJob) => {
  decodeAndResize(j.input, j.cfg).then(
    (px) => {
      const data = new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.byteLength);
      parentPort!.postMessage({ id: j.id, data, size: px.size } satisfies PreprocessReply, [
        data.buffer as ArrayBuffer,
      ]);
    },
    (e: unknown) => {
      const reply: PreprocessReply = {
        id: j.id,
        error: e instanceof Error ? e.message : String(e),
        decode: e instanceof ImageDecodeError,
      };
      parentPort!.postMessage(reply);
    },
  );
});
