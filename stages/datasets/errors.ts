/**
 * Loader errors: a malformed annotation file is a user-input problem, so it becomes one clear message
 * naming the file, the record index and the field (never a stack trace). `RecordReader` checks fields
 * without throwing: it keeps the first problem and returns a placeholder value, and the loader stops
 * after the record that had a problem.
 */

export type DatasetErrorKind = 'file-missing' | 'bad-json' | 'bad-record' | 'bad-option';

export interface DatasetError {
  kind: DatasetErrorKind;
  /** The complete message shown to the user. */
  message: string;
  file?: string;
  index?: number;
  field?: string;
}

export function optionError(message: string): DatasetError {
  return { kind: 'bad-option', message };
}

export function fileMissing(file: string, what: string): DatasetError {
  return { kind: 'file-missing', file, message: `${file}: not found (${what})` };
}

export function badJson(file: string, detail: string): DatasetError {
  return { kind: 'bad-json', file, message: `${file}: not valid JSON (${detail})` };
}

/** A problem with the file's top-level value (`index` absent) or with one record's field. */
export function recordError(
  file: string,
  index: number | null,
  field: string,
  problem: string,
): DatasetError {
  const where = index === null ? `` : `record ${index}, `;
  return {
    kind: 'bad-record',
    file,
    ...(index === null ? {} : { index }),
    field,
    message: `${file}: ${where}field "${field}": ${problem}`,
  };
}

/** Short rendering of an offending value for messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'it is missing';
  const text = JSON.stringify(v) ?? String(v);
  return `got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

/** Checks the fields of one record; the first problem wins. */
export class RecordReader {
  error: DatasetError | null = null;

  constructor(
    readonly file: string,
    readonly index: number,
  ) {}

  fail(field: string, problem: string): void {
    if (this.error === null) this.error = recordError(this.file, this.index, field, problem);
  }

  /** The record (or a nested value) as an object; `{}` after a problem. */
  object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    this.fail(field, `expected an object, ${describeValue(v)}`);
    return {};
  }

  int(v: unknown, field: string): number {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    this.fail(field, `expected an integer, ${describeValue(v)}`);
    return 0;
  }

  number(v: unknown, field: string): number {
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    this.fail(field, `expected a number, ${describeValue(v)}`);
    return 0;
  }

  string(v: unknown, field: string): string {
    if (typeof v === 'string') return v;
    this.fail(field, `expected a string, ${describeValue(v)}`);
    return '';
  }

  /** An id that the official code keys either as an int or as a string (kept as its decimal string). */
  id(v: unknown, field: string): string {
    if (typeof v === 'string' && v.length > 0) return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    this.fail(field, `expected an integer or string id, ${describeValue(v)}`);
    return '';
  }

  array(v: unknown, field: string): unknown[] {
    if (Array.isArray(v)) return v;
    this.fail(field, `expected an array, ${describeValue(v)}`);
    return [];
  }

  stringArray(v: unknown, field: string): string[] {
    return this.array(v, field).map((x, i) => this.string(x, `${field}[${i}]`));
  }
}
