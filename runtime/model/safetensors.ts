// safetensors files: an 8-byte little-endian header length, a JSON header
// (tensor name -> dtype, shape, data_offsets; plus string `__metadata__`),
// then the tensor bytes. Reading memory-maps the file and returns views into
// it (no copy); every offset, length and dtype is validated first, so a
// truncated or hostile file fails with a clear error, never an out-of-bounds read.
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { RankfnError } from "../errors";
import { type ArrayOfDType, type DType, dtypes } from "../tensor/dtype";
import { type Tensor, numel } from "../tensor/tensor";

/** A malformed or unsupported model file. */
export class ModelFileError extends RankfnError {
  override readonly name = "ModelFileError";
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`, "invalid_model_file", 400);
  }
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Tensor data starts are aligned to this many bytes in files rankfn writes. */
const ALIGN = 64;

// safetensors dtype names <-> rankfn dtypes. u8q tables are stored as U8 [rows, dim + 4]
// and marked in the metadata key "rankfn.u8q" (a JSON list of tensor names); u4q tables as
// U8 [rows, (dim + 1) / 2 + 4] listed in "rankfn.u4q" with their dims ({"name": dim}).
const fileDType: Record<DType, string> = { f32: "F32", f16: "F16", bf16: "BF16", i8: "I8", u8q: "U8", u4q: "U8", i32: "I32", i64: "I64", bool: "BOOL" };
const fromFileDType: Record<string, DType> = { F32: "f32", F16: "f16", BF16: "bf16", I8: "i8", U8: "u8q", I32: "i32", I64: "i64", BOOL: "bool" };

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, Tensor>;
  /** Bytes of the file (mapped, not read). */
  bytes: number;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Map `path` and return views of its tensors; throws ModelFileError on any inconsistency. */
export function readSafetensors(path: string): SafetensorsFile {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new ModelFileError(path, `cannot open: ${(err as Error).message}`);
  }
  if (size < 8) throw new ModelFileError(path, `file is ${size} bytes, shorter than the 8-byte header length`);
  const bytes = Bun.mmap(path, { shared: false });
  mapped.add(bytes.buffer);
  return parseSafetensors(bytes, path);
}

/** Buffers of memory-mapped model files: their pages can be dropped and read again from the file. */
const mapped = new WeakSet<ArrayBufferLike>();

/** Is `data` a view of a memory-mapped model file? */
export function isFileBacked(data: ArrayBufferView): boolean {
  return mapped.has(data.buffer);
}

/** Parse safetensors bytes (mapped or in memory); tensors are views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, path = "<memory>"): SafetensorsFile {
  if (bytes.byteLength < 8) throw new ModelFileError(path, `file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) {
    throw new ModelFileError(path, `header length ${headerLength} exceeds the file (${bytes.byteLength} bytes) or the ${MAX_HEADER_BYTES}-byte limit: truncated or not a safetensors file`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (err) {
    throw new ModelFileError(path, `header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new ModelFileError(path, "header is not a JSON object");
  const metadata = readMetadata(header.__metadata__, path);
  const u8qNames = readU8qNames(metadata["rankfn.u8q"], path);
  const u4qDims = readU4qDims(metadata["rankfn.u4q"], path);
  const dataBytes = bytes.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const entry = checkEntry(raw, name, path);
    const dtype = entry.dtype === "U8" && Object.hasOwn(u4qDims, name) ? "u4q" : fromFileDType[entry.dtype];
    if (!dtype) throw new ModelFileError(path, `tensor "${name}": dtype ${entry.dtype} is not supported (expected ${Object.keys(fromFileDType).join(", ")})`);
    if (dtype === "u8q" && !u8qNames.has(name)) throw new ModelFileError(path, `tensor "${name}": U8 tensors are only supported as u8q embedding tables (listed in the "rankfn.u8q" metadata)`);
    const [begin, end] = entry.data_offsets;
    if (end > dataBytes) throw new ModelFileError(path, `tensor "${name}": data [${begin}, ${end}) runs past the end of the data (${dataBytes} bytes): file truncated?`);
    let shape = entry.shape;
    const elementBytes = dtypes[dtype].bytes;
    const expected = numel(shape) * elementBytes;
    if (end - begin !== expected) {
      throw new ModelFileError(path, `tensor "${name}": ${entry.dtype} [${shape.join(", ")}] needs ${expected} bytes, data_offsets give ${end - begin}`);
    }
    if (dtype === "u4q") {
      const dim = u4qDims[name]!;
      if (shape.length !== 2 || shape[1] !== Math.ceil(dim / 2) + 4) throw new ModelFileError(path, `tensor "${name}": u4q tables of dim ${dim} are U8 [rows, ${Math.ceil(dim / 2) + 4}], got ${entry.dtype} [${shape.join(", ")}]`);
      shape = [shape[0]!, dim];
    }
    if (dtype === "u8q") {
      if (shape.length !== 2 || shape[1]! < 4) throw new ModelFileError(path, `tensor "${name}": u8q tables are U8 [rows, dim + 4], got ${entry.dtype} [${shape.join(", ")}]`);
      shape = [shape[0]!, shape[1]! - 4];
    }
    ranges.push([begin, end, name]);
    tensors.set(name, { dtype, shape, data: view(bytes, dataStart + begin, end - begin, dtype) } as Tensor);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1]) throw new ModelFileError(path, `tensors "${ranges[i - 1]![2]}" and "${ranges[i]![2]}" overlap`);
  }
  return { metadata, tensors, bytes: bytes.byteLength };
}

function readMetadata(raw: unknown, path: string): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === "string")) {
    throw new ModelFileError(path, "__metadata__ must be an object of strings");
  }
  return raw as Record<string, string>;
}

function readU8qNames(raw: string | undefined, path: string): Set<string> {
  if (raw === undefined) return new Set();
  let names: unknown;
  try {
    names = JSON.parse(raw);
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
    throw new ModelFileError(path, `metadata "rankfn.u8q" must be a JSON list of tensor names, got ${raw.slice(0, 100)}`);
  }
  return new Set(names as string[]);
}

function readU4qDims(raw: string | undefined, path: string): Record<string, number> {
  if (raw === undefined) return {};
  let dims: unknown;
  try {
    dims = JSON.parse(raw);
  } catch {
    dims = undefined;
  }
  if (typeof dims !== "object" || dims === null || Array.isArray(dims) || !Object.values(dims).every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new ModelFileError(path, `metadata "rankfn.u4q" must be a JSON object of tensor name -> dim, got ${raw.slice(0, 100)}`);
  }
  return dims as Record<string, number>;
}

function checkEntry(raw: unknown, name: string, path: string): HeaderEntry {
  const e = raw as Partial<HeaderEntry>;
  const validShape = Array.isArray(e?.shape) && e.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  const offsets = e?.data_offsets;
  const validOffsets = Array.isArray(offsets) && offsets.length === 2 && offsets.every((o) => Number.isSafeInteger(o) && o >= 0) && offsets[0]! <= offsets[1]!;
  if (typeof e?.dtype !== "string" || !validShape || !validOffsets) {
    throw new ModelFileError(path, `tensor "${name}": needs {dtype: string, shape: non-negative integers, data_offsets: [begin, end] with begin <= end}, got ${JSON.stringify(raw)?.slice(0, 200)}`);
  }
  return e as HeaderEntry;
}

/** A typed view of `length` bytes at `offset`; copied only when misaligned for the element type. */
function view<D extends DType>(bytes: Uint8Array, offset: number, length: number, dtype: D): ArrayOfDType[D] {
  const Ctor = dtypes[dtype].array;
  const elementBytes = Ctor.BYTES_PER_ELEMENT;
  const absolute = bytes.byteOffset + offset;
  if (absolute % elementBytes === 0) return new (Ctor as unknown as new (b: ArrayBufferLike, o: number, n: number) => ArrayOfDType[D])(bytes.buffer, absolute, length / elementBytes);
  const copy = new Uint8Array(length);
  copy.set(bytes.subarray(offset, offset + length));
  return new (Ctor as unknown as new (b: ArrayBufferLike) => ArrayOfDType[D])(copy.buffer);
}

export interface WriteOptions {
  metadata?: Record<string, string>;
  /** Called with bytes written so far and the total (for progress bars). */
  onProgress?: (written: number, total: number) => void;
}

/** Write tensors (contiguous) as a safetensors file with 64-byte-aligned data. */
export function writeSafetensors(path: string, tensors: Record<string, Tensor>, options: WriteOptions = {}): number {
  const header: Record<string, unknown> = {};
  const u8q: string[] = [];
  const u4q: Record<string, number> = {};
  let offset = 0;
  const order = Object.entries(tensors);
  for (const [name, t] of order) {
    if (t.strides) throw new RankfnError(`writeSafetensors: tensor "${name}" must be contiguous`, "bad_strides");
    const length = t.data.byteLength;
    const shape = t.dtype === "u8q" ? [t.shape[0]!, t.shape[1]! + 4] : t.dtype === "u4q" ? [t.shape[0]!, Math.ceil(t.shape[1]! / 2) + 4] : t.shape;
    if (t.dtype === "u8q") u8q.push(name);
    if (t.dtype === "u4q") u4q[name] = t.shape[1]!;
    header[name] = { dtype: fileDType[t.dtype], shape, data_offsets: [offset, offset + length] };
    offset = align(offset + length);
  }
  const metadata = { ...options.metadata, ...(u8q.length > 0 ? { "rankfn.u8q": JSON.stringify(u8q) } : {}), ...(Object.keys(u4q).length > 0 ? { "rankfn.u4q": JSON.stringify(u4q) } : {}) };
  header.__metadata__ = metadata;
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data section starts aligned.
  const padded = align(8 + json.length) - 8;
  json = Uint8Array.from({ length: padded }, (_, i) => (i < json.length ? json[i]! : 0x20));
  const total = 8 + padded + offset;
  const fd = openSync(path, "w");
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(padded), true);
    writeSync(fd, len);
    writeSync(fd, json);
    let written = 8 + padded;
    const zeros = new Uint8Array(ALIGN);
    for (const [, t] of order) {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      for (let at = 0; at < bytes.length; at += 64 << 20) {
        writeSync(fd, bytes.subarray(at, Math.min(bytes.length, at + (64 << 20))));
        options.onProgress?.(written + Math.min(bytes.length, at + (64 << 20)), total);
      }
      written += bytes.length;
      const pad = align(bytes.length) - bytes.length;
      if (pad > 0) writeSync(fd, zeros.subarray(0, pad));
      written += pad;
    }
    options.onProgress?.(total, total);
  } finally {
    closeSync(fd);
  }
  return total;
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
