/**
 * The spec validators compiled at build time (scripts/compile-schema.mjs → compiled/): in the compiled
 * CLI from their code-cached one-file bundle (dist/vendor/validators.cjs, runner/util/vendor.ts),
 * which starts faster; else (TypeScript sources, tests, a stale bundle) from the ES modules.
 */
import { bundleExports } from '../util/vendor.js';

type SpecValidators = Pick<typeof import('./compiled/spec.js'), 'validateSpec'> &
  Pick<typeof import('./compiled/params.js'), 'PARAM_VALIDATORS'>;

const bundled = bundleExports(
  'validators.cjs',
  new URL('./compiled/spec.js', import.meta.url),
) as SpecValidators | null;

export const { validateSpec } = bundled ?? (await import('./compiled/spec.js'));
export const { PARAM_VALIDATORS } = bundled ?? (await import('./compiled/params.js'));
