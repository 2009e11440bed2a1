// Accuracy of bf16 and int8 pages against what was appended (fp32), per page
// and K|V block, over random data whose magnitude varies from page to page:
// pages appended whole (one quantization) and in pieces (int8 requantizes a
// page whose range grows, to at least twice its scale). Prints the measured
// maxima; asserts the bounds rankfn.h states.
import { expect, test } from "bun:test";
import { type KvPageDType, KvStore, kvBudgetForPages, kvFingerprints, kvPageBytes } from "../../runtime/ffi";
import { rng } from "./seeded-random";

const layers = 2, heads = 4, headDim = 64, pageTokens = 16, width = heads * headDim;
const users = 6, tokens = 80; // 5 pages a user

/** Appends every user's tokens (whole, or in chunks of `chunk`), reads them back, returns per-block errors. */
function measure(dtype: KvPageDType, chunk: number, seed: number) {
  const random = rng(seed);
  const pb = kvPageBytes(dtype, layers, heads, headDim, pageTokens);
  using store = new KvStore({ layers, heads, headDim, pageTokens, dtype, budgetBytes: kvBudgetForPages(pb, users * 5) });
  const rows = users * tokens, layerStride = rows * width;
  const k = new Float32Array(layers * layerStride), v = new Float32Array(layers * layerStride);
  // Magnitude per (user, page): 1e-3 .. 1e3, so a shared scale would fail.
  for (let u = 0; u < users; u++)
    for (let t = 0; t < tokens; t++) {
      const mag = 10 ** (((u * 7 + Math.floor(t / pageTokens) * 3) % 7) - 3);
      for (let l = 0; l < layers; l++)
        for (let c = 0; c < width; c++) {
          const at = l * layerStride + (u * tokens + t) * width + c;
          k[at] = (random() * 2 - 1) * mag * (1 + t / tokens); // grows within a page: int8 requantizes
          v[at] = (random() * 2 - 1) * mag;
        }
    }
  const offsets = BigInt64Array.from({ length: users + 1 }, (_, b) => BigInt(b * tokens));
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(i));
  const fp = kvFingerprints(offsets, ids, ids);
  for (let u = 0; u < users; u++)
    for (let start = 0; start < tokens; start += chunk) {
      const count = Math.min(chunk, tokens - start);
      const item = { user: BigInt(u), start, count, srcRow: u * tokens + start, prefixFp: start > 0 ? fp[u * tokens + start - 1]! : 0n, fp: fp[u * tokens + start + count - 1]! };
      expect([...store.append(1n, [item], k, v, { layerStride })]).toEqual([1]);
    }
  const gk = new Float32Array(k.length), gv = new Float32Array(v.length);
  const cached = store.lookup(1n, BigUint64Array.from({ length: users }, (_, u) => BigInt(u)), offsets, fp, { k: gk, v: gv, kvOffsets: offsets, layerStride });
  expect([...cached]).toEqual(Array(users).fill(BigInt(tokens)));
  let maxRel = 0; // max |err| / block max |x|
  let maxElemRel = 0; // max |err| / |x| (bf16's bound is elementwise)
  for (let u = 0; u < users; u++)
    for (let p = 0; p < tokens / pageTokens; p++)
      for (let l = 0; l < layers; l++)
        for (const [want, got] of [[k, gk], [v, gv]] as const) {
          let amax = 0, err = 0;
          for (let t = p * pageTokens; t < (p + 1) * pageTokens; t++)
            for (let c = 0; c < width; c++) {
              const at = l * layerStride + (u * tokens + t) * width + c;
              const x = want[at]!, e = Math.abs(got[at]! - x);
              amax = Math.max(amax, Math.abs(x));
              err = Math.max(err, e);
              if (x !== 0) maxElemRel = Math.max(maxElemRel, e / Math.abs(x));
            }
          maxRel = Math.max(maxRel, err / amax);
        }
  return { maxRel, maxElemRel };
}

test("bf16 and int8 pages stay within their stated error of the fp32 values", () => {
  const f32 = measure("f32", tokens, 1);
  const bf16 = measure("bf16", 7, 2);
  const i8Whole = measure("i8", tokens, 3);
  const i8Pieces = measure("i8", 5, 4);
  console.log(
    `kv page accuracy (max |err| / page-block max |x|): f32 ${f32.maxRel}, bf16 ${bf16.maxRel.toExponential(3)} ` +
      `(elementwise ${bf16.maxElemRel.toExponential(3)}), int8 whole pages ${i8Whole.maxRel.toExponential(3)}, ` +
      `int8 appended in pieces of 5 ${i8Pieces.maxRel.toExponential(3)}`,
  );
  expect(f32.maxRel).toBe(0);
  expect(bf16.maxElemRel).toBeLessThanOrEqual(2 ** -8); // round to nearest even: half an ulp of 8 significant bits
  expect(bf16.maxRel).toBeGreaterThan(0);
  expect(i8Whole.maxRel).toBeLessThanOrEqual((1 / 254) * 1.0001); // scale / 2
  expect(i8Pieces.maxRel).toBeLessThanOrEqual((2 / 127) * 1.0001); // requantized (scale at least doubling)
  expect(i8Whole.maxRel).toBeGreaterThan(1 / 400);
});
