/**
 * Moved to `runner/contract/stage.ts` (the stage contract's home, issue 11). This re-export only keeps
 * branches written before the move compiling; import from the contract. Remove once they are merged.
 */
export * from '../contract/stage.js';
