// A small msgpack encoder for responses: maps with string keys, strings,
// numbers (integers as ints, the rest as float64), booleans, null, arrays and
// Uint8Array as bin — all a rank response holds. It writes into one growing
// buffer and returns a copy of exactly the bytes written; on a response of a
// few hundred bytes it is several times cheaper than a general encoder, and
// the per-request server overhead is what it is for.

let buf = new Uint8Array(1 << 16);
let view = new DataView(buf.buffer);
let at = 0;
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
    header(0xde, -1, n, 0x80, 15);
    for (const k in o) {
      if (o[k] === undefined) continue;
      str(k);
      value(o[k]);
    }
  } else throw new TypeError(`msgpack: cannot encode a ${typeof v}`);
}

/** msgpack bytes of `v` (maps, strings, numbers, booleans, null, arrays, Uint8Array as bin). */
export function packValue(v: unknown): Uint8Array {
  at = 0;
  value(v);
  return buf.slice(0, at);
}
