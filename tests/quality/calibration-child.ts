// Child process of calibration.test.ts: DLRM int8 accuracy on held-out requests with one activation
// range per row, per segment (the default) and per segment after calibration, in a process whose CPU
// path the parent picked (RANKFN_AVX2_INT8 is read once per process).
import { rankingAccuracy } from "../../runtime/quality/ranking-accuracy";
import { rankingRequests } from "../../runtime/quality/ranking-requests";
import { calibrate } from "../../runtime/quality/calibrate";
import { zoo } from "../../sdk";

const dlrm = zoo.dlrm.build({ scale: 0.0001, seed: 3 });
const heldOut = { count: 16, seed: 1 };
const calibration = calibrate(dlrm, rankingRequests(dlrm, { count: 2, seed: 100 }), { precision: "int8" });
const [row] = rankingAccuracy(dlrm, { precision: "int8", activationGroups: "row" }, heldOut);
const [segments] = rankingAccuracy(dlrm, { precision: "int8" }, heldOut);
const [calibrated] = rankingAccuracy(dlrm, { precision: "int8", keep: calibration.keep }, heldOut);
console.log(JSON.stringify({ calibration, row, segments, calibrated }));
