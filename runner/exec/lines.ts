/** Splits a stream of text chunks into lines (without the `\n`; a trailing `\r` is dropped too). */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let rest = '';
  return {
    push(chunk) {
      let start = 0;
      let nl = chunk.indexOf('\n');
      if (nl === -1) {
        rest += chunk;
        return;
      }
      let first = true;
      while (nl !== -1) {
        let line = chunk.slice(start, nl);
        if (first) {
          line = rest + line;
          rest = '';
          first = false;
        }
        if (line.endsWith('\r')) line = line.slice(0, -1);
        onLine(line);
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      rest = chunk.slice(start);
    },
    flush() {
      if (rest !== '') {
        const line = rest;
        rest = '';
        onLine(line);
      }
    },
  };
}

/** Keeps the last `n` lines (worker stderr tail for failure messages). */
export class LineRing {
  readonly #n: number;
  #lines: string[] = [];
  constructor(n: number) {
    this.#n = n;
  }
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#n) this.#lines.shift();
  }
  get lines(): string[] {
    return [...this.#lines];
  }
}
