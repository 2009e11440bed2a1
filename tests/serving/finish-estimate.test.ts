// The batch-cost fit behind admission control: it recovers overhead + per-row cost
// from batches of different sizes, is not moved by a few slow batches, and turns a
// queue into a finish time the way the coalescer will cut it into batches.
import { expect, test } from "bun:test";
import { FinishEstimator, MIN_BATCHES_TO_PREDICT } from "../../runtime/serving/finish-estimate";
import { Rng } from "../../runtime/tensor/random";

const limits = { maxBatchRows: 32, maxBatchRequests: Infinity };
const idle = { rows: 0, requests: 0, delayLeftMs: 0 };

test("fits overhead and per-row time from batches of different sizes, and ignores a few slow ones", () => {
  const estimator = new FinishEstimator();
  for (let i = 0; i < MIN_BATCHES_TO_PREDICT - 1; i++) estimator.record(1 + i, 2 + 0.05 * (1 + i));
  expect(estimator.cost()).toBeUndefined(); // too few batches to predict anything
  expect(estimator.predictMs(1, idle, limits)).toBeUndefined();
  for (let i = 0; i < 60; i++) estimator.record(1 + (i % 32), 2 + 0.05 * (1 + (i % 32)));
  for (let i = 0; i < 6; i++) estimator.record(3, 80); // a GC pause, a plan being built
  const cost = estimator.cost()!;
  expect(cost.overheadMs).toBeCloseTo(2, 6);
  expect(cost.perRowMs).toBeCloseTo(0.05, 6);
  expect(cost.spreadMs).toBeCloseTo(0, 6);
});

test("batches that all had the same rows give slope 0 and their median cost as the overhead", () => {
  const estimator = new FinishEstimator();
  for (let i = 0; i < 20; i++) estimator.record(8, i === 3 ? 100 : 10);
  expect(estimator.cost()).toMatchObject({ overheadMs: 10, perRowMs: 0 });
});

test("a slope the noise cannot tell from 0 is taken as 0, not extrapolated to bigger batches", () => {
  const estimator = new FinishEstimator();
  const rng = new Rng(3);
  // 1–4-row batches of 18 ms ± 3 ms (a busy machine) and no per-row cost to speak of.
  for (let i = 0; i < 64; i++) estimator.record(1 + (i % 4), 18 + 0.01 * (1 + (i % 4)) + 3 * rng.normal());
  const cost = estimator.cost()!;
  expect(cost.perRowMs).toBe(0);
  expect(cost.overheadMs).toBeGreaterThan(17);
  expect(cost.overheadMs).toBeLessThan(21);
  expect(cost.spreadMs).toBeGreaterThan(2); // the noise is in the margin instead
});

test("a queue is predicted as the batches it will be cut into, behind what the running batch has left", () => {
  const estimator = new FinishEstimator();
  for (let i = 0; i < 16; i++) estimator.record(4 + 4 * (i % 8), 2 + 0.05 * (4 + 4 * (i % 8))); // exact: no spread, no margin
  // A full batch is counted at 30 rows: the 32-row bound less half a 4-row request (batches are cut between requests).
  // 60 rows queued + 4 of its own = 64 rows in ceil(64 / 30) = 3 batches; the running 32-row batch (3.6 ms) has 1.6 ms left.
  const predicted = estimator.predictMs(4, { rows: 60, requests: 15, delayLeftMs: 0, running: { rows: 32, elapsedMs: 2 } }, limits)!;
  // No arrivals recorded: its own batch holds what is queued for it (64 − 2 × 30 = 4 rows) and nothing more.
  expect(predicted).toBeCloseTo(1.6 + 3 * 2 + 0.05 * 64, 6);
  // "off": one request per batch, so 16 batches of their own overhead.
  expect(estimator.predictMs(4, { rows: 60, requests: 15, delayLeftMs: 0 }, { maxBatchRows: 32, maxBatchRequests: 1 })!).toBeCloseTo(16 * 2 + 0.05 * 64, 6);
});

test("its own batch also holds what arrives before it starts, up to a full batch", () => {
  const estimator = new FinishEstimator();
  for (let i = 0; i < 16; i++) estimator.record(4 + 4 * (i % 8), 2 + 0.05 * (4 + 4 * (i % 8)));
  for (let t = 0; t <= 100; t++) estimator.recordArrival(t, 4); // 4 rows per ms
  // Behind a running batch with 2 ms left: 8 rows arrive meanwhile and join its batch of 4.
  const ahead = { rows: 0, requests: 0, delayLeftMs: 0, running: { rows: 32, elapsedMs: 1.6 } };
  expect(estimator.predictMs(4, ahead, limits)!).toBeCloseTo(2 + 2 + 0.05 * 12, 6);
});
