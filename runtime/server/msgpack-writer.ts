// A small msgpack encoder for responses: maps with string keys, strings,
// numbers (integers as ints, the rest as float64), booleans, null, arrays and
// Uint8Array as bin — all a rank response holds. It sizes the message from
// above first, writes it into one buffer of that size and returns a view of
// the bytes written: an output tensor's bytes are copied once, into the body.
// On a response of a few hundred bytes it is several times cheaper than a
// general encoder, and the per-request server overhead is what it is for.

let buf = new Uint8Array(0);
let view = new DataView(buf.buffer);
let at = 0;
let alignBins = false;
const text = new TextEncoder();

function room(n: number): void {
  if (at + n <= buf.length) return;
  const next = new Uint8Array(Math.max(buf.length * 2, at + n));
  next.set(buf.subarray(0, at));
  buf = next;
  view = new DataView(buf.buffer);
}

function header(small: number, base8: number, n: number, fixBase: number, fixMax: number): void {
  room(5);
  if (n <= fixMax && fixBase >= 0) buf[at++] = fixBase | n;
  else if (n < 256 && base8 >= 0) {
    buf[at++] = base8;
    buf[at++] = n;
  } else if (n < 65536) {
    buf[at++] = small;
    view.setUint16(at, n);
    at += 2;
  } else {
    buf[at++] = small + 1;
    view.setUint32(at, n);
    at += 4;
  }
}

function str(s: string): void {
  // ASCII fast path (keys, dtypes, model names); anything else through TextEncoder.
  let ascii = s.length < 256;
  for (let i = 0; ascii && i < s.length; i++) if (s.charCodeAt(i) > 127) ascii = false;
  if (ascii) {
    header(0xda, 0xd9, s.length, 0xa0, 31);
    room(s.length);
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    return;
  }
  const bytes = text.encode(s);
  header(0xda, 0xd9, bytes.length, 0xa0, 31);
  room(bytes.length);
  buf.set(bytes, at);
  at += bytes.length;
}

function num(n: number): void {
  room(9);
  if (Number.isInteger(n) && n >= 0 && n < 128) buf[at++] = n;
  else if (Number.isInteger(n) && n >= -32 && n < 0) buf[at++] = 0xe0 | (n + 32);
  else if (Number.isInteger(n) && n >= -2147483648 && n <= 4294967295) {
    if (n >= 0) {
      buf[at++] = 0xce;
      view.setUint32(at, n);
    } else {
      buf[at++] = 0xd2;
      view.setInt32(at, n);
    }
    at += 4;
  } else {
    buf[at++] = 0xcb;
    view.setFloat64(at, n);
    at += 8;
  }
}

function value(v: unknown): void {
  if (v === null || v === undefined) {
    room(1);
    buf[at++] = 0xc0;
  } else if (typeof v === "boolean") {
    room(1);
    buf[at++] = v ? 0xc3 : 0xc2;
  } else if (typeof v === "number") num(v);
  else if (typeof v === "string") str(v);
  else if (v instanceof Uint8Array) {
    header(0xc5, 0xc4, v.length, -1, -1);
    room(v.length);
    buf.set(v, at);
    at += v.length;
  } else if (Array.isArray(v)) {
    header(0xdc, -1, v.length, 0x90, 15);
    for (const x of v) value(x);
  } else if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    let n = 0;
    for (const k in o) if (o[k] !== undefined) n++;
    const pad = alignBins && o.data instanceof Uint8Array && !("pad" in o);
    header(0xde, -1, pad ? n + 1 : n, 0x80, 15);
    for (const k in o) {
      if (o[k] === undefined) continue;
      if (pad && k === "data") padBefore(o.data as Uint8Array);
      str(k);
      value(o[k]);
    }
  } else throw new TypeError(`msgpack: cannot encode a ${typeof v}`);
}

/**
 * A `pad` entry (a string of 0-7 spaces, which the server ignores) so that the bin written next,
 * under the key "data", starts at a multiple of 8 bytes: the server then reads it in place.
 */
function padBefore(bin: Uint8Array): void {
  const binHeader = bin.length < 256 ? 2 : bin.length < 65536 ? 3 : 5;
  // "pad" (4 bytes) + fixstr header (1) + k spaces + "data" (5) + the bin's header.
  const k = (8 - ((at + 4 + 1 + 5 + binHeader) % 8)) % 8;
  str("pad");
  str(" ".repeat(k));
}

/** An upper bound of the encoded size of `v` (strings count 3 bytes per UTF-16 unit). */
function sizeBound(v: unknown): number {
  if (typeof v === "string") return 5 + 3 * v.length;
  if (v instanceof Uint8Array) return 5 + v.length;
  if (Array.isArray(v)) return v.reduce((a: number, x) => a + sizeBound(x), 5);
  if (typeof v === "object" && v !== null) {
    let n = 5;
    for (const k in v as Record<string, unknown>) n += 5 + 3 * k.length + sizeBound((v as Record<string, unknown>)[k]);
    return n + 16; // room for a pad entry
  }
  return 9;
}

/**
 * msgpack bytes of `v` (maps, strings, numbers, booleans, null, arrays, Uint8Array as bin). With
 * `alignBins`, every map holding a bin under "data" (a tensor) gets a `pad` entry that puts the
 * bin's bytes at a multiple of 8 from the start: what a client sends so the server reads it in place.
 */
export function packValue(v: unknown, options: { alignBins?: boolean } = {}): Uint8Array {
  buf = new Uint8Array(sizeBound(v));
  view = new DataView(buf.buffer);
  at = 0;
  alignBins = options.alignBins ?? false;
  value(v);
  const bytes = buf.subarray(0, at);
  buf = new Uint8Array(0); // the body is the caller's now
  return bytes;
}
