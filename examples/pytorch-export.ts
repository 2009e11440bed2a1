// Your own PyTorch model into rankfn: a YouTube-DNN-style ranker written as
// plain nn.Module code, exported with torch.onnx.export (dynamic batch axis,
// the per-request inputs named in metadata_props["rankfn.context"]), loaded
// with loadModel and ranked — one user, five candidates — next to PyTorch's
// own scores. Needs the Debian python3-torch and python3-onnx (for
// /usr/bin/python3). `bun examples/pytorch-export.ts`
import { runTorchExport } from "./torch-export";
import { loadModel, tensor } from "../sdk";

const EXPORT = String.raw`
import json, sys, torch, torch.nn as nn, onnx
torch.manual_seed(0)

class Ranker(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.video = nn.Embedding(1000, d)
        self.cate = nn.Embedding(50, 8)
        self.mlp = nn.Sequential(nn.Linear(2 * d + 8 + 4, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 1))

    def forward(self, watch_hist, user_dense, video_id, video_cate):
        watched = self.video(watch_hist).mean(dim=1)  # the user's history, mean-pooled
        x = torch.cat([watched, user_dense, self.video(video_id).squeeze(1), self.cate(video_cate).squeeze(1)], dim=1)
        return torch.sigmoid(self.mlp(x))

model = Ranker().eval()
n = 5
hist = torch.randint(0, 1000, (1, 10)).expand(n, 10)   # one user: the same row for every candidate
dense = torch.rand(1, 4).expand(n, 4)
args = (hist, dense, torch.randint(0, 1000, (n, 1)), torch.randint(0, 50, (n, 1)))
names = ["watch_hist", "user_dense", "video_id", "video_cate"]
path = sys.argv[1]
with torch.no_grad():
    want = model(*args)
    torch.onnx.export(model, args, path, input_names=names, output_names=["ctr"], opset_version=17,
                      dynamic_axes={k: {0: "batch"} for k in names + ["ctr"]})
proto = onnx.load(path)
meta = proto.metadata_props.add()
meta.key, meta.value = "rankfn.context", "watch_hist,user_dense"
onnx.save(proto, path)
print(json.dumps({"inputs": {k: v.tolist() for k, v in zip(names, args)}, "ctr": want.flatten().tolist()}))
`;

const { path, exported } = runTorchExport<{ inputs: Record<string, number[][]>; ctr: number[] }>(EXPORT, "ranker.onnx");
const ids = (rows: number[][]) => tensor("i64", [rows.length, rows[0]!.length], BigInt64Array.from(rows.flat(), BigInt));

using model = loadModel(path); // a .onnx file is imported on load; its metadata names the context inputs
console.log(model.inspect().compiler.slice(0, 1).join("\n"));
const { watch_hist, user_dense, video_id, video_cate } = exported.inputs as Record<string, number[][]>;
const { outputs } = await model.rank({
  // Context inputs go once per request: the user's row, not one per candidate.
  context: { watch_hist: ids([watch_hist![0]!]), user_dense: tensor("f32", [1, 4], Float32Array.from(user_dense![0]!)) },
  candidates: { video_id: ids(video_id!), video_cate: ids(video_cate!) },
});
const got = Array.from(outputs.ctr!.data);
console.log(`rankfn  ${got.map((v) => v.toFixed(6)).join(" ")}`);
console.log(`PyTorch ${exported.ctr.map((v) => v.toFixed(6)).join(" ")}`);
console.log(`largest difference ${Math.max(...got.map((v, i) => Math.abs(v - exported.ctr[i]!))).toExponential(2)}`);
