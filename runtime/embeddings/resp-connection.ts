// A minimal binary RESP2 connection for the remote tier's bulk reads (MGET).
// Bun's RedisClient decodes the bulk strings of send() replies as UTF-8 (lossy
// for row bytes: only getBuffer keeps bytes, one key per command), so a batch's
// misses would cost one GET per row. This connection speaks just enough of the
// protocol to pipeline MGETs and read their arrays of bulk strings as bytes;
// writes, pub/sub and metadata stay on Bun's client. Replies are parsed
// incrementally as chunks arrive (no re-scan of a large reply), commands are
// answered in order (FIFO), and a lost connection fails every command in
// flight and reconnects on the next call, after a backoff.
import type { Socket } from "bun";
import { BACKOFF_MS, RemoteTierError } from "./redis-connection";

type Reply = (Uint8Array | null)[] | Uint8Array | string | number | null | Error;

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

const encoder = new TextEncoder();
const CR = 13;

/** Parse state of the reply being read (kept across chunks). */
interface Partial {
  items: (Uint8Array | null)[] | undefined; // an array reply's elements read so far
  left: number; // elements still to read
}

export class RespConnection {
  #socket: Socket<undefined> | undefined;
  #connecting: Promise<Socket<undefined>> | undefined;
  readonly #pending: Pending[] = [];
  #buf: Uint8Array = new Uint8Array(0);
  #partial: Partial = { items: undefined, left: 0 };
  #failures = 0;
  #retryAt = 0;
  #closed = false;
  #unsent: Uint8Array[] = [];
  #everConnected = false;
  /** Connections made after the first one. */
  reconnects = 0;
  readonly host: string;
  readonly port: number;
  readonly #setup: string[][];

  constructor(
    readonly url: string,
    readonly connectTimeoutMs: number,
  ) {
    const u = new URL(url);
    this.host = u.hostname || "127.0.0.1";
    this.port = Number(u.port || 6379);
    const setup: string[][] = [];
    if (u.password) setup.push(u.username ? ["AUTH", decodeURIComponent(u.username), decodeURIComponent(u.password)] : ["AUTH", decodeURIComponent(u.password)]);
    const db = u.pathname.replace(/^\//, "");
    if (db && db !== "0") setup.push(["SELECT", db]);
    this.#setup = setup;
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /** Connect now (otherwise the first command connects). */
  async open(): Promise<void> {
    await this.#connected();
  }

  /** MGET `keys`: each value's bytes, null where the key does not exist. */
  async mget(keys: string[]): Promise<(Uint8Array | null)[]> {
    const reply = await this.command(["MGET", ...keys]);
    if (!Array.isArray(reply)) throw new RemoteTierError(`MGET answered ${typeof reply}, not an array`);
    return reply;
  }

  /** Send one command; resolves with its reply (an error reply rejects). */
  async command(args: string[]): Promise<Reply> {
    const socket = await this.#connected();
    const reply = new Promise<Reply>((resolve, reject) => this.#pending.push({ resolve, reject }));
    this.#write(socket, encodeCommand(args));
    const r = await reply;
    if (r instanceof Error) throw r;
    return r;
  }

  async #connected(): Promise<Socket<undefined>> {
    if (this.#closed) throw new RemoteTierError("the Redis store is closed");
    if (this.#socket) return this.#socket;
    if (!this.#connecting) {
      if (Date.now() < this.#retryAt) throw new RemoteTierError(`Redis at ${this.url} is unreachable (retrying in ${this.#retryAt - Date.now()} ms)`);
      this.#connecting = this.#connect().finally(() => (this.#connecting = undefined));
    }
    return this.#connecting;
  }

  async #connect(): Promise<Socket<undefined>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const socket = await Promise.race([
        Bun.connect<undefined>({
          hostname: this.host,
          port: this.port,
          socket: {
            data: (_s, chunk) => this.#onData(chunk),
            drain: (s) => this.#flush(s),
            close: () => this.#onClose(new RemoteTierError(`the connection to Redis at ${this.url} closed`)),
            error: (_s, err) => this.#onClose(new RemoteTierError(`Redis at ${this.url}: ${err.message}`)),
          },
        }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no connection within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs))),
      ]);
      if (this.#closed) {
        socket.end();
        throw new Error("the Redis store is closed");
      }
      this.#socket = socket;
      for (const args of this.#setup) {
        const r = await new Promise<Reply>((resolve, reject) => {
          this.#pending.push({ resolve, reject });
          this.#write(socket, encodeCommand(args));
        });
        if (r instanceof Error) throw r;
      }
      this.#failures = 0;
      if (this.#everConnected) this.reconnects++;
      this.#everConnected = true;
      return socket;
    } catch (err) {
      this.#drop();
      this.#retryAt = Date.now() + BACKOFF_MS[Math.min(this.#failures++, BACKOFF_MS.length - 1)]!;
      throw new RemoteTierError(`cannot connect to Redis at ${this.url}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  #write(socket: Socket<undefined>, bytes: Uint8Array): void {
    if (this.#unsent.length > 0) {
      this.#unsent.push(bytes);
      return;
    }
    const n = socket.write(bytes);
    if (n < bytes.length) this.#unsent.push(bytes.subarray(Math.max(0, n)));
  }

  #flush(socket: Socket<undefined>): void {
    while (this.#unsent.length > 0) {
      const head = this.#unsent[0]!;
      const n = socket.write(head);
      if (n < head.length) {
        this.#unsent[0] = head.subarray(Math.max(0, n));
        return;
      }
      this.#unsent.shift();
    }
  }

  #onClose(err: Error): void {
    this.#drop();
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  #drop(): void {
    const s = this.#socket;
    this.#socket = undefined;
    this.#buf = new Uint8Array(0);
    this.#partial = { items: undefined, left: 0 };
    this.#unsent = [];
    s?.end();
  }

  #onData(chunk: Uint8Array): void {
    // One copy per chunk (the socket may reuse `chunk`); the rows handed out are views into it.
    let buf: Uint8Array;
    if (this.#buf.length === 0) buf = chunk.slice();
    else {
      buf = new Uint8Array(this.#buf.length + chunk.length);
      buf.set(this.#buf);
      buf.set(chunk, this.#buf.length);
    }
    let at = 0;
    for (;;) {
      const r = this.#parse(buf, at);
      at = r.at;
      if (!r.done) break;
      const p = this.#pending.shift();
      p?.resolve(r.reply);
    }
    // Only the unparsed tail is kept (at most one partial element).
    this.#buf = buf.subarray(at);
  }

  /** One complete reply from buf[start..] (done), or how far it got (an array's elements read so far stay in #partial). */
  #parse(buf: Uint8Array, start: number): { done: true; reply: Reply; at: number } | { done: false; at: number } {
    let at = start;
    const st = this.#partial;
    if (st.items === undefined) {
      const line = readLine(buf, at);
      if (!line) return { done: false, at };
      const type = buf[at]!;
      const text = line.text;
      if (type === 42 /* * */) {
        const n = Number(text);
        if (n < 0) return { done: true, reply: null, at: line.next };
        st.items = [];
        st.left = n;
        at = line.next;
      } else if (type === 36 /* $ */) {
        const len = Number(text);
        if (len < 0) return { done: true, reply: null, at: line.next };
        if (line.next + len + 2 > buf.length) return { done: false, at };
        return { done: true, reply: buf.subarray(line.next, line.next + len), at: line.next + len + 2 };
      } else if (type === 43 /* + */) return { done: true, reply: text, at: line.next };
      else if (type === 45 /* - */) return { done: true, reply: new Error(text), at: line.next };
      else if (type === 58 /* : */) return { done: true, reply: Number(text), at: line.next };
      else {
        this.#onClose(new RemoteTierError(`Redis at ${this.url} sent an unexpected reply byte ${type}`));
        return { done: false, at: buf.length };
      }
    }
    const items = st.items!;
    while (st.left > 0) {
      // An element's header `$<len>\r\n` read as an integer in place (no string per row).
      const next = readLength(buf, at);
      if (next < 0) break;
      const len = lengthRead;
      if (buf[at] !== 36 || len < 0) {
        items.push(null);
        at = next;
      } else {
        if (next + len + 2 > buf.length) break;
        items.push(buf.subarray(next, next + len));
        at = next + len + 2;
      }
      st.left--;
    }
    // Incomplete: the elements parsed so far stay in #partial; the caller keeps buf[at..] for the next chunk.
    if (st.left > 0) return { done: false, at };
    st.items = undefined;
    return { done: true, reply: items, at };
  }

  close(): void {
    this.#closed = true;
    this.#onClose(new RemoteTierError("the Redis store is closed"));
  }
}

/** One CRLF-terminated header line at buf[at..] (without its type byte), or undefined when incomplete. */
function readLine(buf: Uint8Array, at: number): { text: string; next: number } | undefined {
  for (let i = at + 1; i + 1 < buf.length; i++) {
    if (buf[i] === CR) {
      let text = "";
      for (let k = at + 1; k < i; k++) text += String.fromCharCode(buf[k]!);
      return { text, next: i + 2 };
    }
  }
  return undefined;
}

/** The value readLength parsed last (a module slot: no object per element). */
let lengthRead = 0;

/**
 * The signed integer of the header line at buf[at..] (after its type byte) into `lengthRead`;
 * returns the index after its CRLF, or -1 when the line is incomplete.
 */
function readLength(buf: Uint8Array, at: number): number {
  let i = at + 1;
  let sign = 1;
  if (buf[i] === 45 /* - */) {
    sign = -1;
    i++;
  }
  let v = 0;
  for (; i + 1 < buf.length; i++) {
    const c = buf[i]!;
    if (c === CR) {
      lengthRead = sign * v;
      return i + 2;
    }
    v = v * 10 + (c - 48);
  }
  return -1;
}

/** A command as a RESP array of bulk strings. */
function encodeCommand(args: string[]): Uint8Array {
  // Keys are ASCII as a rule (string length = byte length); anything else is measured.
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${a.length}\r\n${a}\r\n`;
  const bytes = encoder.encode(s);
  if (bytes.length === s.length) return bytes;
  s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return encoder.encode(s);
}
