// Lines of an event stream that are no SSE field and that a chunk boundary splits (or that the body
// ends without finishing). eventsource-parser drops such a line unread (it keeps a partial line only
// when it could be a field), but Gemini writes a bare JSON error object into a 200 stream, and it
// may arrive in pieces or without a newline at the end; Google's own SDK reads it from the raw
// chunks. This hands those lines to the reader's stray(); lines whole within one chunk still come
// from the parser. Only a reader with stray() pays for it: a scan of each chunk's two ends.
const FIELDS = ['data', 'event', 'id', 'retry'];

/** Whether the start of a line may be an SSE field or comment, which the parser reads itself. */
function mayBeField(start: string): boolean {
  if (start.startsWith(':')) return true;
  return FIELDS.some((field) => (start.length <= field.length ? field.startsWith(start) : start.startsWith(field)));
}

function firstLineEnd(text: string): number {
  const cr = text.indexOf('\r');
  const lf = text.indexOf('\n');
  return cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
}

const lastLineEnd = (text: string): number => Math.max(text.lastIndexOf('\r'), text.lastIndexOf('\n'));

export class SpannedLines {
  readonly #limit: number;
  /** At the start of a line, inside one that may be stray (kept in #partial), or inside a field. */
  #state: 'start' | 'stray' | 'field' = 'start';
  #partial = '';

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The stray line this chunk finishes, if one began in an earlier chunk. Call before the parser sees the chunk. */
  take(chunk: string): string | undefined {
    const first = firstLineEnd(chunk);
    if (first === -1) {
      if (this.#state === 'start') this.#begin(chunk);
      else if (this.#state === 'stray') this.#append(chunk);
      return undefined;
    }
    const finished = this.#state === 'stray' ? this.#partial + chunk.slice(0, first) : undefined;
    this.#state = 'start';
    this.#partial = '';
    const trailing = chunk.slice(lastLineEnd(chunk) + 1);
    if (trailing !== '') this.#begin(trailing);
    return finished;
  }

  /** The body ended: the stray line it did not finish, if any. */
  rest(): string | undefined {
    const line = this.#state === 'stray' && this.#partial !== '' ? this.#partial : undefined;
    this.#state = 'start';
    this.#partial = '';
    return line;
  }

  #begin(start: string): void {
    this.#state = mayBeField(start) ? 'field' : 'stray';
    if (this.#state === 'stray') this.#append(start);
  }

  #append(text: string): void {
    // Past the limit it is no error object worth reading: stop keeping it.
    if (this.#partial.length + text.length > this.#limit) {
      this.#state = 'field';
      this.#partial = '';
      return;
    }
    this.#partial += text;
  }
}
