// Child process of calibration.test.ts: DLRM int8 accuracy on held-out requests with u8 activations
// (one range per row, per segment, per segment after calibration) and with the default 16-bit
// activations (plain, and calibrated: fp32 layers kept, u8 layers narrowed), in a process whose CPU
// path the parent picked (RANKFN_AVX2_INT8 is read once per process).
import { rankingAccuracy } from "../../runtime/quality/ranking-accuracy";
import { rankingRequests } from "../../runtime/quality/ranking-requests";
import { calibrate } from "../../runtime/quality/calibrate";
import { isa } from "../../runtime/ffi";
import { zoo } from "../../sdk";

const dlrm = zoo.dlrm.build({ scale: 0.0001, seed: 3 });
const heldOut = { count: 16, seed: 1 };
const samples = rankingRequests(dlrm, { count: 2, seed: 100 });
const u8 = { precision: "int8", activationBits: 8 } as const;
const calibration = calibrate(dlrm, samples, u8);
const [row] = rankingAccuracy(dlrm, { ...u8, activationGroups: "row" }, heldOut);
const [segments] = rankingAccuracy(dlrm, u8, heldOut);
const [calibrated] = rankingAccuracy(dlrm, { ...u8, keep: calibration.keep }, heldOut);
const calibration16 = calibrate(dlrm, samples, { precision: "int8" });
const [wide] = rankingAccuracy(dlrm, { precision: "int8" }, heldOut);
const [calibrated16] = rankingAccuracy(dlrm, { precision: "int8", keep: calibration16.keep, narrow: calibration16.narrow }, heldOut);
console.log(JSON.stringify({ path: isa().active, calibration, row, segments, calibrated, calibration16, wide, calibrated16 }));
