/** Expected failures travel as values; exceptions are for bugs only. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const err = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });

/** Ends an exhaustive switch: the compiler proves this line unreachable. */
export function unreachable(value: never, what = 'value'): never {
  throw new Error(`unreachable: unexpected ${what} ${JSON.stringify(value)}`);
}
