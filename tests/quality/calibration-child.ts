// Child process of calibration.test.ts: DLRM int8 accuracy on held-out requests without and with
// calibration, in a process whose CPU path the parent picked (RANKFN_AVX2_INT8 is read once per process).
import { rankingAccuracy } from "../../runtime/quality/ranking-accuracy";
import { rankingRequests } from "../../runtime/quality/ranking-requests";
import { calibrate } from "../../runtime/quality/calibrate";
import { zoo } from "../../sdk";

const dlrm = zoo.dlrm.build({ scale: 0.0001, seed: 3 });
const calibration = calibrate(dlrm, rankingRequests(dlrm, { count: 2, seed: 100 }), { precision: "int8" });
const [plain] = rankingAccuracy(dlrm, { precision: "int8" }, { count: 16, seed: 1 });
const [calibrated] = rankingAccuracy(dlrm, { precision: "int8", keep: calibration.keep }, { count: 16, seed: 1 });
console.log(JSON.stringify({ calibration, plain, calibrated }));
