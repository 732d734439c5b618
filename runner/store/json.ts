/** Reading JSON objects from the store: one helper for every stage that reads its inputs' lists. */
import { type Failure, failure } from '../contract/failure.js';
import { err, ok, type Result } from '../util/result.js';
import type { ObjectRef, ObjectStore } from './types.js';

/** Reads, verifies and parses a JSON object; `what` names it in the message ("dataset queries"). */
export async function readJsonObject<T>(
  objects: ObjectStore,
  ref: ObjectRef,
  what: string,
): Promise<Result<T, Failure>> {
  const bytes = await objects.read(ref);
  if (!bytes.ok) return bytes;
  try {
    return ok(JSON.parse(Buffer.from(bytes.value).toString('utf8')) as T);
  } catch (e) {
    return err(
      failure(
        'bad-input',
        `${what} (object ${ref.sha256.slice(0, 12)}) is not valid JSON: ${(e as Error).message}`,
      ),
    );
  }
}
