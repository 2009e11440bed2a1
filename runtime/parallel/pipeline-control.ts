// The shared-memory control block of one pipeline stage: the main thread and
// the stage's worker exchange commands and completions through it with Atomics
// (no messages: the main thread's run() is synchronous and blocks in
// Atomics.wait while the stages compute). One block per stage, plus one events
// word every stage bumps on any progress, which the scheduler waits on. A stage
// ends on the stop command, or with its owner's thread (Bun ends a worker's
// workers when it ends: a terminated worker-mode executor takes its stages).
//   ctl[seq]       command number (main increments, worker waits on it)
//   ctl[kind]      Command
//   ctl[n], ctl[r] candidate and context rows of the microbatch (prepare: capacity)
//   ctl[copied]    the last command whose live-ins this stage copied
//   ctl[done]      the last command completed; ctl[status] 0 or 1 (failed), ctl[http] its status
//   ctl[failNext]  fail the next run (fault injection)
//   ctl[generation] bumped when the stage planned again (its addresses changed)
//   ctl[jagged]    bit h: history input h is staged as values + offsets (its offsets follow the rows)
//   ctl[lengths]   bit h: the stager counted history input h's events (the counts follow the offsets)
// Then the addresses of the exchanged values (f64), the last run's start and
// end (absolute ms), the failure message, the microbatch's request of each row,
// and each history input's offsets and event counts for the microbatch's requests.
export const Command = { prepare: 1, run: 2, stop: 3 } as const;
export const Ctl = { seq: 0, kind: 1, n: 2, r: 3, copied: 4, done: 5, status: 6, http: 7, failNext: 8, generation: 9, errorLength: 10, exchanged: 11, maxRows: 12, histories: 13, jagged: 14, lengths: 15 } as const;
const CTL_WORDS = 16;
const ERROR_BYTES = 2048;
/** The word every stage shares: bumped on any progress. */
export const eventsBuffer = (): SharedArrayBuffer => new SharedArrayBuffer(4);

export class StageControl {
  readonly ctl: Int32Array;
  readonly times: Float64Array;
  readonly addresses: Float64Array;
  readonly error: Uint8Array;
  readonly requestOfRow: Int32Array;
  readonly events: Int32Array;
  readonly #offsets: Int32Array[];
  readonly #lengths: Int32Array[];

  /** A new block for `exchanged` values and microbatches of up to `maxRows` rows. */
  static create(exchanged: number, maxRows: number, histories = 0): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(CTL_WORDS * 4 + 16 + exchanged * 8 + ERROR_BYTES + maxRows * 4 + histories * (2 * maxRows + 1) * 4);
    const ctl = new Int32Array(buffer, 0, CTL_WORDS);
    ctl[Ctl.exchanged] = exchanged;
    ctl[Ctl.maxRows] = maxRows;
    ctl[Ctl.histories] = histories;
    return buffer;
  }

  constructor(buffer: SharedArrayBuffer, events: SharedArrayBuffer) {
    this.ctl = new Int32Array(buffer, 0, CTL_WORDS);
    this.times = new Float64Array(buffer, CTL_WORDS * 4, 2);
    const exchanged = this.ctl[Ctl.exchanged]!, rows = this.ctl[Ctl.maxRows]!;
    const rowsAt = CTL_WORDS * 4 + 16 + exchanged * 8 + ERROR_BYTES;
    this.addresses = new Float64Array(buffer, CTL_WORDS * 4 + 16, exchanged);
    this.error = new Uint8Array(buffer, CTL_WORDS * 4 + 16 + exchanged * 8, ERROR_BYTES);
    this.requestOfRow = new Int32Array(buffer, rowsAt, rows);
    const histories = this.ctl[Ctl.histories]!;
    this.#offsets = Array.from({ length: histories }, (_, h) => new Int32Array(buffer, rowsAt + rows * 4 + h * (rows + 1) * 4, rows + 1));
    const lengthsAt = rowsAt + rows * 4 + histories * (rows + 1) * 4;
    this.#lengths = Array.from({ length: histories }, (_, h) => new Int32Array(buffer, lengthsAt + h * rows * 4, rows));
    this.events = new Int32Array(events);
  }

  /** Worker: block until a command after `seen` arrives; returns its number. */
  waitCommand(seen: number): number {
    while (Atomics.load(this.ctl, Ctl.seq) === seen) Atomics.wait(this.ctl, Ctl.seq, seen);
    return Atomics.load(this.ctl, Ctl.seq);
  }

  /** Main: issue a command (its fields already written). */
  issue(kind: number, n: number, r: number): number {
    this.ctl[Ctl.kind] = kind;
    this.ctl[Ctl.n] = n;
    this.ctl[Ctl.r] = r;
    const seq = Atomics.add(this.ctl, Ctl.seq, 1) + 1;
    Atomics.notify(this.ctl, Ctl.seq);
    return seq;
  }

  markCopied(seq: number): void {
    Atomics.store(this.ctl, Ctl.copied, seq);
    this.#bump();
  }

  complete(seq: number, status: number, http: number): void {
    this.ctl[Ctl.status] = status;
    this.ctl[Ctl.http] = http;
    Atomics.store(this.ctl, Ctl.done, seq);
    this.#bump();
  }

  /** History input h's offsets for the microbatch's requests (when ctl[jagged] has bit h). */
  offsets(h: number): Int32Array {
    return this.#offsets[h]!;
  }

  /** History input h's event count per request of the microbatch (when ctl[lengths] has bit h). */
  lengths(h: number): Int32Array {
    return this.#lengths[h]!;
  }

  setAddress(i: number, address: number): void {
    this.addresses[i] = address;
  }

  address(i: number): number {
    return this.addresses[i]!;
  }

  /** The failure's message and error code (the code travels before a NUL). */
  setError(message: string, code = ""): void {
    const bytes = new TextEncoder().encode(`${code}\u0000${message}`).subarray(0, this.error.length);
    this.error.set(bytes);
    this.ctl[Ctl.errorLength] = bytes.length;
  }

  errorMessage(): string {
    return this.#errorParts()[1] ?? "";
  }

  errorCode(): string | undefined {
    return this.#errorParts()[0] || undefined;
  }

  #errorParts(): string[] {
    const text = new TextDecoder().decode(this.error.slice(0, this.ctl[Ctl.errorLength]!));
    const at = text.indexOf("\u0000");
    return at < 0 ? ["", text] : [text.slice(0, at), text.slice(at + 1)];
  }

  #bump(): void {
    Atomics.add(this.events, 0, 1);
    Atomics.notify(this.events, 0);
  }
}

/** Worker: the stop command is done. */
export function finish(c: StageControl): void {
  c.complete(Atomics.load(c.ctl, Ctl.seq), 0, 0);
}
