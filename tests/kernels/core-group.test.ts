// CPU core groups (rf_stream_create_pool + rf_stream_enqueue): queued commands
// compute what the direct calls compute, two groups run side by side, failures
// surface at sync naming the command and leave the stream usable, bad
// arguments are error statuses.
import { afterAll, describe, expect, test } from "bun:test";
import type { Pointer } from "bun:ffi";
import * as k from "../../runtime/ffi";
import { KernelError } from "../../runtime/errors";
import { Rng } from "../../runtime/tensor/random";
import { tensor } from "../../runtime/tensor/tensor";

const owned: k.DeviceBuffer[] = [];
/** A native f32 buffer (queued commands need addresses that never move). */
function nativeF32(n: number, fill?: (i: number) => number): { data: Float32Array; ptr: number } {
  const b = new k.DeviceBuffer(0, n * 4);
  owned.push(b);
  const data = new Float32Array(b.view()).fill(0); // rf_malloc memory is not zeroed
  if (fill) for (let i = 0; i < n; i++) data[i] = fill(i);
  return { data, ptr: b.ptr as number };
}
function nativeI32(values: number[]): { data: Int32Array; ptr: number } {
  const b = new k.DeviceBuffer(0, values.length * 4);
  owned.push(b);
  const data = new Int32Array(b.view());
  data.set(values);
  return { data, ptr: b.ptr as number };
}
afterAll(() => owned.forEach((b) => b.dispose()));

const rng = new Rng(11);
const M = 37, K = 48, N = 29;
const x = nativeF32(M * K, () => rng.uniform(-1, 1));
const wData = rng.floats(N * K);
const bias = nativeF32(N, () => rng.uniform(-0.5, 0.5));
const w = k.PackedWeight.pack(tensor("f32", [N, K], wData));
const direct = k.gemm({ x: tensor("f32", [M, K], x.data.slice()), w, bias: tensor("f32", [N], bias.data.slice()), act: "gelu" }).data as Float32Array;

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1e-12;
  let worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / scale;
}

// Core groups are a CPU backend feature; the OpenCL backend runs queued commands on its own queue.
const cpu = k.loadLibrary().backend === "cpu";

describe("queued commands on core groups", () => {
  test.skipIf(!cpu)("two groups run GEMMs side by side and match the direct call within 1e-6", () => {
    using g0 = new k.CoreGroupStream(1, [0]);
    using g1 = new k.CoreGroupStream(2);
    const y0 = nativeF32(M * N);
    const y1 = nativeF32(M * N);
    const l0 = new k.CommandList(2);
    const l1 = new k.CommandList();
    for (let rep = 0; rep < 3; rep++) {
      l0.reset();
      l1.reset();
      l0.gemm(M, x.ptr, K, w.handle as number, bias.ptr, 2, y0.ptr, N);
      l1.gemm(M, x.ptr, K, w.handle as number, bias.ptr, 2, y1.ptr, N);
      g0.enqueue(l0);
      g1.enqueue(l1);
      g0.sync();
      g1.sync();
    }
    expect(maxRelDiff(y0.data, direct)).toBeLessThan(1e-6);
    expect(maxRelDiff(y1.data, direct)).toBeLessThan(1e-6);
    const s0 = g0.stats();
    expect(s0.commands).toBe(3);
    expect(s0.threads).toBe(1);
    expect(s0.busyMs).toBeGreaterThan(0);
    expect(g1.stats().threads).toBe(2);
    expect(g1.stats().pinned).toBe(false); // no cpus given
    if (process.platform === "linux") expect(s0.pinned).toBe(true); // cpu 0 is allowed here
  });

  test.skipIf(!cpu)("gather -> GEMM -> weighted scatter-add in order equals the same ops called directly", () => {
    using g = new k.CoreGroupStream(1);
    const rows = [5, 0, 36, 5, 12];
    const idx = nativeI32(rows);
    const gate = nativeF32(rows.length, (i) => 0.25 + i * 0.1);
    const xe = nativeF32(rows.length * K);
    const ye = nativeF32(rows.length * N);
    const out = nativeF32(M * N);
    const list = new k.CommandList();
    list.gatherRows(rows.length, K, x.ptr, K, M, idx.ptr, null, xe.ptr, K);
    list.gemm(rows.length, xe.ptr, K, w.handle as number, bias.ptr, 2, ye.ptr, N);
    list.scatterAddRows(rows.length, N, ye.ptr, N, idx.ptr, gate.ptr, out.ptr, N, M);
    g.enqueue(list);
    g.sync();
    const want = new Float32Array(M * N);
    rows.forEach((r, i) => {
      for (let j = 0; j < N; j++) want[r * N + j]! += gate.data[i]! * direct[r * N + j]!;
    });
    expect(maxRelDiff(out.data, want)).toBeLessThan(1e-6);
  });

  test.skipIf(!cpu)("a queued embedding_bags command pools what the direct rf_embedding_bags call pools", () => {
    using g = new k.CoreGroupStream(1);
    const dims = [5, 3];
    const rows = [17, 4];
    const tables = dims.map((d, t) => nativeF32(rows[t]! * d, () => rng.uniform(-1, 1)));
    const ids = [nativeI32([3, 16, 0, 9, 9, 2]), nativeI32([1, 3, 0])];
    const offsets = [BigInt64Array.of(0n, 2n, 2n, 6n), BigInt64Array.of(0n, 1n, 2n, 3n)]; // 3 bags, the second of table 0 empty
    const offsetsAt = offsets.map((o) => {
      const buf = new k.DeviceBuffer(0, o.byteLength);
      owned.push(buf);
      new BigInt64Array(buf.view()).set(o);
      return buf.ptr as number;
    });
    const width = dims[0]! + dims[1]!;
    const out = nativeF32(3 * width);
    const bags = new k.BagTables(2);
    dims.forEach((dim, t) =>
      bags.push({ table: tables[t]!.ptr, ids: ids[t]!.ptr, offsets: offsetsAt[t]!, weights: null, out: out.ptr + (t === 0 ? 0 : dims[0]! * 4), rows: rows[t]!, dim, numIds: ids[t]!.data.length, ldo: width, tableDtype: 0, idDtype: 5, mode: t === 0 ? 1 : 0 }),
    );
    const list = new k.CommandList();
    list.embeddingBags(2, bags.address, 3);
    g.enqueue(list);
    g.sync();
    const direct = k.embeddingBags(dims.map((dim, t) => ({ table: tensor("f32", [rows[t]!, dim], tables[t]!.data.slice()), ids: tensor("i32", [ids[t]!.data.length], ids[t]!.data.slice()), offsets: tensor("i64", [4], offsets[t]!), mode: t === 0 ? "mean" : "sum" })));
    const want = new Float32Array(3 * width);
    direct.forEach((d, t) => { for (let b = 0; b < 3; b++) want.set(d.data.subarray(b * dims[t]!, (b + 1) * dims[t]!) as Float32Array, b * width + (t === 0 ? 0 : dims[0]!)); });
    expect(maxRelDiff(out.data, want)).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(0);
    bags.dispose();
  });

  test.skipIf(!cpu)("an embedding_bags command without its tables is refused before anything is queued", () => {
    using g = new k.CoreGroupStream(1);
    const list = new k.CommandList();
    list.embeddingBags(2, null, 3);
    expect(() => g.enqueue(list)).toThrow("cmds[0] (embedding_bags) needs 0 <= m <= INT32_MAX tables and a");
  });

  test.skipIf(!cpu)("a device-to-device copy moves the bytes", () => {
    using g = new k.CoreGroupStream(1);
    const src = nativeF32(100, (i) => i * 1.5);
    const dst = nativeF32(100);
    const list = new k.CommandList();
    list.memcpy(dst.ptr, src.ptr, 400);
    g.enqueue(list);
    g.sync();
    expect(Array.from(dst.data)).toEqual(Array.from(src.data));
  });

  test.skipIf(!cpu)("a failing command fails its batch at sync, later commands are skipped, the next batch runs", () => {
    using g = new k.CoreGroupStream(1);
    const bad = nativeI32([0, 99]);
    const dst = nativeF32(2 * K);
    const y = nativeF32(M * N);
    const list = new k.CommandList();
    list.gemm(M, x.ptr, K, w.handle as number, null, 0, y.ptr, N);
    list.gatherRows(2, K, x.ptr, K, M, bad.ptr, null, dst.ptr, K);
    list.memcpy(dst.ptr, x.ptr, 4 * K); // skipped
    g.enqueue(list);
    let err: unknown;
    try {
      g.sync();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).kernelStatus).toBe(2);
    expect((err as Error).message).toBe("command 1 (gather_rows): rf_gather_rows: idx[1] = 99 is outside [0, src_rows = 37)");
    expect(dst.data.every((v) => v === 0)).toBe(true);
    list.reset();
    list.fail(5);
    g.enqueue(list);
    expect(() => g.sync()).toThrow("command 0 (fail): injected fault");
    list.reset();
    list.gemm(M, x.ptr, K, w.handle as number, bias.ptr, 2, y.ptr, N);
    g.enqueue(list);
    g.sync();
    expect(maxRelDiff(y.data, direct)).toBeLessThan(1e-6);
  });

  test("on a plain stream or NULL the commands run at once and errors return directly", () => {
    const y = nativeF32(M * N);
    const list = new k.CommandList();
    list.gemm(M, x.ptr, K, w.handle as number, bias.ptr, 2, y.ptr, N);
    k.check(k.loadLibrary().symbols.rf_stream_enqueue(null, list.bytes, list.length), "rf_stream_enqueue");
    expect(maxRelDiff(y.data, direct)).toBeLessThan(1e-6);
    list.reset();
    list.fail(3);
    expect(k.loadLibrary().symbols.rf_stream_enqueue(null, list.bytes, list.length)).toBe(3);
  });
});

describe("bad arguments are statuses", () => {
  const sym = () => k.loadLibrary().symbols;
  const out = new BigUint64Array(1);
  test.skipIf(!cpu)("rf_stream_create_pool", () => {
    expect(sym().rf_stream_create_pool(0, 0, null, 0, out)).toBe(1);
    expect(String(sym().rf_last_error())).toBe("rf_stream_create_pool: threads = 0 must be in 1..256");
    expect(sym().rf_stream_create_pool(0, 1, Int32Array.of(-1), 1, out)).toBe(1);
    expect(sym().rf_stream_create_pool(0, 1, null, 2, out)).toBe(1);
    expect(sym().rf_stream_create_pool(0, 1, null, -1, out)).toBe(1);
    expect(sym().rf_stream_create_pool(1, 1, null, 0, out)).toBe(1);
    expect(sym().rf_stream_create_pool(0, 1, null, 0, null)).toBe(1);
  });
  test.skipIf(!cpu)("rf_stream_enqueue and rf_stream_stats", () => {
    using g = new k.CoreGroupStream(1);
    const list = new k.CommandList();
    list.fail();
    const bytes = list.bytes.slice(0, 96);
    new DataView(bytes.buffer).setInt32(0, 9, true);
    expect(sym().rf_stream_enqueue(g.handle, bytes, 1)).toBe(1);
    expect(String(sym().rf_last_error())).toBe("rf_stream_enqueue: cmds[0].op = 9 is unknown");
    expect(sym().rf_stream_enqueue(g.handle, null, 1)).toBe(1);
    expect(sym().rf_stream_enqueue(g.handle, bytes, -1)).toBe(1);
    expect(sym().rf_stream_stats(null as unknown as Pointer, null, null, null, null)).toBe(1);
    g.sync(); // nothing was queued
    expect(g.stats().commands).toBe(0);
  });
});

test("every backend checks enqueue's arguments the same way; only the cpu backend makes core-group streams", () => {
  const sym = k.loadLibrary().symbols;
  const out = new BigUint64Array(1);
  if (cpu) {
    expect(sym.rf_stream_create_pool(0, 1, null, 0, out)).toBe(0);
    expect(sym.rf_stream_destroy(Number(out[0]) as unknown as Pointer)).toBe(0);
  } else {
    expect(sym.rf_stream_create_pool(0, 1, null, 0, out)).toBe(3);
    expect(String(sym.rf_last_error())).toContain("core-group streams are a CPU backend feature");
  }
  const bytes = new k.CommandList().bytes.slice(0, 96);
  new DataView(bytes.buffer).setInt32(0, 9, true);
  expect(sym.rf_stream_enqueue(null, bytes, 1)).toBe(1);
  expect(String(sym.rf_last_error())).toBe("rf_stream_enqueue: cmds[0].op = 9 is unknown");
  expect(sym.rf_stream_stats(null as unknown as Pointer, null, null, null, null)).toBe(1);
  // A queued attention command names its rf_attention_args_t: without one it is refused before anything runs.
  const attention = new k.CommandList();
  attention.hstuAttention(null);
  expect(sym.rf_stream_enqueue(null, attention.bytes, 1)).toBe(1);
  expect(String(sym.rf_last_error())).toBe("rf_stream_enqueue: cmds[0] (hstu_attention) needs a (its rf_attention_args_t)");
});
