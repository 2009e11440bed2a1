// Histories of different lengths per request: a DIN-style ranker whose behaviour
// history is exported with a dynamic axis (torch.onnx.export dynamic_axes
// {1: "hist_len"}), loaded with `dims: { hist_len: 64 }`. rankfn plans the model
// per size bucket (8, 16, 32, 64) and pads each request's history to its bucket
// with the padding id 0, which the model masks — so each user's scores equal
// PyTorch run on exactly that user's history. Needs the Debian python3-torch and
// python3-onnx (for /usr/bin/python3). `bun examples/dynamic-history.ts`
import { runTorchExport } from "./torch-export";
import { loadModel, tensor } from "../sdk";

const EXPORT = String.raw`
import json, sys, torch, torch.nn as nn, onnx
torch.manual_seed(0)

class Din(nn.Module):
    def __init__(self, d=16):
        super().__init__()
        self.item = nn.Embedding(1000, d, padding_idx=0)
        self.att = nn.Sequential(nn.Linear(4 * d, 16), nn.ReLU(), nn.Linear(16, 1))
        self.out = nn.Sequential(nn.Linear(2 * d, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, hist, item):
        mask = hist == 0                                   # 0 pads a short history
        k = self.item(hist)
        q = self.item(item).expand(-1, hist.shape[1], -1)
        scores = self.att(torch.cat([q, k, q - k, q * k], dim=-1)).squeeze(-1).masked_fill(mask, -1e9)
        pooled = torch.bmm(torch.softmax(scores, dim=1).unsqueeze(1), k).squeeze(1)
        return torch.sigmoid(self.out(torch.cat([pooled, self.item(item).squeeze(1)], dim=1)))

model = Din().eval()
path = sys.argv[1]
users = [torch.randint(1, 1000, (1, n)) for n in (3, 12, 40)]   # three users, three history lengths
items = torch.randint(1, 1000, (4, 1))
with torch.no_grad():
    want = [model(h.expand(4, -1), items).flatten().tolist() for h in users]
    torch.onnx.export(model, (users[1].expand(4, -1), items), path, input_names=["hist", "item"], output_names=["ctr"],
                      opset_version=17, dynamic_axes={"hist": {0: "batch", 1: "hist_len"}, "item": {0: "batch"}, "ctr": {0: "batch"}})
proto = onnx.load(path)
meta = proto.metadata_props.add()
meta.key, meta.value = "rankfn.context", "hist"
onnx.save(proto, path)
print(json.dumps({"users": [h.flatten().tolist() for h in users], "items": items.flatten().tolist(), "ctr": want}))
`;

const { path, exported } = runTorchExport<{ users: number[][]; items: number[]; ctr: number[][] }>(EXPORT, "din.onnx");

// The history's largest length; padding: { value: 0, side: "left" } is the default.
using model = loadModel(path, { dims: { hist_len: 64 } });
const candidates = { item: tensor("i64", [exported.items.length, 1], BigInt64Array.from(exported.items, BigInt)) };
const responses = await model.rankMany(
  exported.users.map((hist) => ({ context: { hist: tensor("i64", [1, hist.length], BigInt64Array.from(hist, BigInt)) }, candidates })),
);
responses.forEach((res, u) => {
  const got = Array.from(res.outputs.ctr!.data);
  const worst = Math.max(...got.map((v, i) => Math.abs(v - exported.ctr[u]![i]!)));
  console.log(`user ${u}: history of ${exported.users[u]!.length} events  rankfn ${got.map((v) => v.toFixed(5)).join(" ")}  (PyTorch: max |Δ| ${worst.toExponential(1)})`);
});
console.log(`planned buckets: ${model.inspect().dims!.buckets.map((b) => b.hist_len).join(", ")}`);
