// The response encoder against msgpackr's decoder: every value a response can
// hold (and the size classes of strings, bins, arrays, maps and integers)
// decodes back to itself.
import { expect, test } from "bun:test";
import { Unpackr } from "msgpackr";
import { packValue } from "../../runtime/server/msgpack-writer";
import { Rng } from "../../runtime/tensor/random";

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const roundTrip = (v: unknown) => unpackr.unpack(packValue(v));
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

test("scalars of every size class", () => {
  for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -1e-300, 1e300, Math.PI]) {
    expect(roundTrip(n)).toBe(n);
  }
  expect(Number.isNaN(roundTrip(NaN))).toBe(true);
  expect(roundTrip(Infinity)).toBe(Infinity);
  for (const v of [true, false, null]) expect(roundTrip(v)).toBe(v);
});

test("strings: fixstr, str8, str16, str32, non-ASCII", () => {
  for (const s of ["", "a", "x".repeat(31), "x".repeat(32), "y".repeat(255), "y".repeat(256), "z".repeat(65536), "ctr", "modèle", "ранжирование", "🚀 emoji"]) expect(roundTrip(s)).toBe(s);
});

test("bins, arrays and maps of every size class", () => {
  for (const n of [0, 1, 255, 256, 65535, 65536]) expect(new Uint8Array(roundTrip(bytes(n)))).toEqual(bytes(n));
  for (const n of [0, 15, 16, 65535, 65536]) expect(roundTrip(Array.from({ length: n }, (_, i) => i))).toEqual(Array.from({ length: n }, (_, i) => i));
  for (const n of [0, 15, 16, 300]) {
    const m = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(roundTrip(m)).toEqual(m);
  }
});

test("random nested responses decode to themselves; undefined fields are left out", () => {
  const rng = new Rng(9);
  for (let t = 0; t < 200; t++) {
    const outputs: Record<string, unknown> = {};
    for (let o = 0; o < 1 + rng.int(3); o++) {
      const rows = rng.int(300);
      outputs[`out_${o}`] = { dtype: "f32", shape: [rows, 1], data: bytes(rows * 4, t) };
    }
    const res = { outputs, model: `m${rng.int(1000)}`, version: rng.int(70000), timing: { queue_ms: rng.next() * 10, compute_ms: rng.next(), cold_start_ms: rng.int(2) ? 12.5 : undefined }, degraded: rng.int(2) ? true : undefined };
    const back = roundTrip(res) as Record<string, any>;
    expect(back.model).toBe(res.model);
    expect(back.version).toBe(res.version);
    expect(back.timing.queue_ms).toBe(res.timing.queue_ms);
    expect("cold_start_ms" in back.timing).toBe(res.timing.cold_start_ms !== undefined);
    expect("degraded" in back).toBe(res.degraded !== undefined);
    for (const [name, t] of Object.entries(outputs) as [string, { shape: number[]; data: Uint8Array }][]) {
      expect(back.outputs[name].shape).toEqual(t.shape);
      expect(new Uint8Array(back.outputs[name].data)).toEqual(t.data);
    }
  }
});
