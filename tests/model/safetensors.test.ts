// Model files: safetensors round trips for every dtype with zero-copy views of
// the mapped file, and every kind of malformed file rejected with a clear error.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelFileError, parseSafetensors, readSafetensors, writeSafetensors } from "../../runtime/model/safetensors";
import { quantizeRowsU4, quantizeRowsU8, toBf16, toF16 } from "../../runtime/tensor/quantize";
import { Rng } from "../../runtime/tensor/random";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";

const dir = mkdtempSync(join(tmpdir(), "rankfn-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rng = new Rng(3);

function sample(): Record<string, Tensor> {
  const f = rng.floats(3 * 5);
  return {
    w: tensor("f32", [3, 5], f),
    h: tensor("f16", [15], toF16(f)),
    b: tensor("bf16", [5, 3], toBf16(f)),
    q: tensor("i8", [2, 3], new Int8Array([-128, -1, 0, 1, 2, 127])),
    ids: tensor("i32", [4], new Int32Array([1, -2, 3, 2147483647])),
    big: tensor("i64", [2], new BigInt64Array([-(1n << 62n), 7n])),
    table: tensor("u8q", [4, 6], quantizeRowsU8(rng.floats(24), 4, 6)),
    // An odd dim: (7 + 1) / 2 + 4 = 8 bytes per row, the dim kept in the "rankfn.u4q" metadata.
    table4: tensor("u4q", [3, 7], quantizeRowsU4(rng.floats(21), 3, 7)),
    empty: tensor("f32", [0, 7]),
  };
}

test("every dtype round-trips, as views of the mapped file", () => {
  const path = join(dir, "all.safetensors");
  const tensors = sample();
  let lastProgress = 0;
  const total = writeSafetensors(path, tensors, { metadata: { graph: '{"x":1}' }, onProgress: (w) => (lastProgress = w) });
  expect(lastProgress).toBe(total);
  const file = readSafetensors(path);
  expect(file.bytes).toBe(total);
  expect(file.metadata.graph).toBe('{"x":1}');
  for (const [name, t] of Object.entries(tensors)) {
    const got = file.tensors.get(name)!;
    expect(got.dtype).toBe(t.dtype);
    expect(got.shape).toEqual(t.shape);
    expect(Array.from(got.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
  }
  // Zero copy: all tensors share the one mapping.
  const buffers = new Set([...file.tensors.values()].filter((t) => t.data.byteLength > 0).map((t) => t.data.buffer));
  expect(buffers.size).toBe(1);
});

function fileWithHeader(header: object | string, data = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test("malformed files are rejected with what is wrong", () => {
  const bad = (bytes: Uint8Array) => () => parseSafetensors(bytes, "m.safetensors");
  expect(bad(new Uint8Array(5))).toThrow("m.safetensors: file is 5 bytes, shorter than the 8-byte header length");
  expect(bad(fileWithHeader({}, new Uint8Array(0), 1n << 40n))).toThrow("header length 1099511627776 exceeds the file");
  expect(bad(fileWithHeader("{not json"))).toThrow("header is not valid UTF-8 JSON");
  expect(bad(fileWithHeader("[1,2]"))).toThrow("header is not a JSON object");
  expect(bad(fileWithHeader({ __metadata__: { a: 1 } }))).toThrow("__metadata__ must be an object of strings");
  expect(bad(fileWithHeader({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)))).toThrow('tensor "x": data [0, 8) runs past the end of the data (4 bytes): file truncated?');
  expect(bad(fileWithHeader({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow('tensor "x": F32 [3] needs 12 bytes, data_offsets give 8');
  expect(bad(fileWithHeader({ x: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow('tensor "x": dtype F64 is not supported');
  expect(bad(fileWithHeader({ x: { dtype: "U8", shape: [8], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow("U8 tensors are only supported as u8q embedding tables");
  expect(bad(fileWithHeader({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow('tensor "x": needs {dtype');
  expect(bad(fileWithHeader({ x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, new Uint8Array(8)))).toThrow('tensor "x": needs {dtype');
  expect(bad(fileWithHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)))).toThrow('tensors "a" and "b" overlap');
  expect(() => readSafetensors(join(dir, "missing.safetensors"))).toThrow("cannot open");
});

test("a truncated copy of a real file fails cleanly at every cut", () => {
  const path = join(dir, "cut.safetensors");
  writeSafetensors(path, sample());
  const bytes = readFileSync(path);
  for (let cut = 0; cut < bytes.length; cut += 7) {
    try {
      parseSafetensors(new Uint8Array(bytes.subarray(0, cut)), "cut");
      // A cut that only drops trailing padding may still parse; the tensors must then be intact.
    } catch (err) {
      expect(err).toBeInstanceOf(ModelFileError);
    }
  }
});

test("random corruption of the header never escapes as anything but ModelFileError", () => {
  const path = join(dir, "fuzz.safetensors");
  writeSafetensors(path, sample());
  const original = readFileSync(path);
  const headerEnd = 8 + Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0, true));
  const fuzz = new Rng(11);
  for (let trial = 0; trial < 300; trial++) {
    const bytes = new Uint8Array(original);
    for (let flips = 1 + fuzz.int(3); flips > 0; flips--) bytes[fuzz.int(headerEnd)] = fuzz.int(256);
    try {
      parseSafetensors(bytes, "fuzz");
    } catch (err) {
      if (!(err instanceof ModelFileError)) throw err;
    }
  }
});

test("data at an offset misaligned for its dtype is copied, not misread", () => {
  // A 3-byte header puts the data at byte 11: f32 views there would be misaligned.
  const header = { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const json = JSON.stringify(header);
  const data = new Uint8Array(new Float32Array([1.5, -2.25]).buffer);
  const bytes = fileWithHeader(json + " ".repeat(3), data);
  const path = join(dir, "odd.safetensors");
  writeFileSync(path, bytes);
  const x = readSafetensors(path).tensors.get("x")!;
  expect(Array.from(x.data as Float32Array)).toEqual([1.5, -2.25]);
});
