/**
 * What `pefuse tokenize` uses of the tokenizers and model folders, in one module the catalog loads on
 * demand (`TOOLS.tokenizer` in stages/catalog.ts).
 */
export { resolveModelConfig, resolveModelRef } from '../model/config.js';
export { ClipBpeTokenizer, loadClipVocab } from './clip-bpe.js';
export {
  clipTextTokenizer,
  loadTextTokenizer,
  MAX_CONTEXT_LENGTH,
  MIN_CONTEXT_LENGTH,
  type TextTokenizer,
} from './index.js';
