/**
 * Worker program of the dummy diffusion editor (`node dist/stages/dummy/diffusion-worker.js`).
 *
 *   diffusion.edit  {reference_path: string, text: string, seed?: number, out_path?: string}
 *                   → {image: {file: "/abs/path.png"}}   (the runner moves the file into the object store,
 *                     giving ImageItemOutput `{image: ObjectRef}`, stages/contracts.ts)
 *
 * The PNG goes to `out_path` when given, else to `$PEFUSE_WORKER_TMP` (or the OS temp folder) under a
 * per-process folder. Params: guidance_scale, image_guidance_scale, steps (see DummyDiffusionParams).
 */
import { access, mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { diffusionParamsOf, dummyEdit } from './diffusion.js';
import { DUMMY_DIFFUSION_IDENTITY } from './identity.js';
import { badInput, runWorker, seedField, stringField } from './worker-loop.js';

const defaultDir = join(process.env.PEFUSE_WORKER_TMP ?? tmpdir(), `pefuse-dummy-diffusion-${process.pid}`);

runWorker({
  identity: DUMMY_DIFFUSION_IDENTITY,
  configure(kind, params) {
    if (kind !== 'diffusion.edit')
      return `dummy-diffusion cannot run stage kind "${kind}" (it runs diffusion.edit)`;
    const p = diffusionParamsOf(params);
    if (typeof p === 'string') return `dummy-diffusion: ${p}`;
    return async (id, input) => {
      const reference = stringField(input, 'reference_path');
      const text = stringField(input, 'text');
      if (reference === undefined || text === undefined)
        return badInput('diffusion.edit input needs strings "reference_path" and "text"');
      try {
        await access(reference);
      } catch {
        return { ok: false, reason: 'input-missing', message: `reference image not found: ${reference}` };
      }
      const outPath =
        stringField(input, 'out_path') ?? join(defaultDir, `${id.replace(/[^\w.-]/g, '_')}.png`);
      if (!isAbsolute(outPath)) return badInput(`out_path must be absolute (got ${outPath})`);
      const png = await dummyEdit({ reference, text }, p, seedField(input));
      await mkdir(dirname(outPath), { recursive: true });
      const tmp = `${outPath}.${process.pid}.tmp`;
      await writeFile(tmp, png);
      await rename(tmp, outPath);
      // `{file}` is replaced by the file's ObjectRef when the runner ingests it: `{image: ObjectRef}`.
      return { ok: true, output: { image: { file: outPath } } };
    };
  },
});
