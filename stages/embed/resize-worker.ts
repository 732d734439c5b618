/** Worker thread body for `resize-pool.ts`: runs the Pillow-exact resize off the main thread. */
import { parentPort } from 'node:worker_threads';
import { type Filter, pilResizeRgb } from './pil-resize.js';

export interface ResizeJob {
  id: number;
  src: Uint8Array;
  width: number;
  height: number;
  outW: number;
  outH: number;
  filter: Filter;
  crop: { x: number; y: number; w: number; h: number };
}

parentPort?.on('message', (j: ResizeJob) => {
  const out = pilResizeRgb(j.src, j.width, j.height, j.outW, j.outH, j.filter, j.crop);
  parentPort!.postMessage({ id: j.id, out }, [out.buffer as ArrayBuffer]);
});
