// Your own PyTorch HSTU into rankfn: generative-recommenders' padded HSTU layer
// (u, v, q, k = split(silu(uvqk(x))); silu(q·kᵀ·α + rab) / n · causal · key
// padding; o(LN(a·v) · u) + x) written as plain nn.Module code, one candidate
// per row as the last token, exported with torch.onnx.export. On load the
// compiler fuses each layer's chain into one pointwise_attention
// (fuse-hstu-attention, the rab table read back from the exported constant) and
// splits the history half off so it runs once per request (split-history).
// Needs the Debian python3-torch and python3-onnx. `bun examples/pytorch-hstu.ts`
import { runTorchExport } from "./torch-export";
import { loadModel, tensor } from "../sdk";

const EXPORT = String.raw`
import json, math, sys, torch, torch.nn as nn, torch.nn.functional as F, onnx
torch.manual_seed(0)
L, D, H, DQK, DV, BUCKETS = 12, 16, 2, 8, 8, 5

class Hstu(nn.Module):
    def __init__(self, layers=2):
        super().__init__()
        t = L + 1
        self.items, self.actions = nn.Embedding(1000, D, padding_idx=0), nn.Embedding(4, D, padding_idx=0)
        self.uvqk = nn.ModuleList(nn.Linear(D, H * (2 * DV + 2 * DQK)) for _ in range(layers))
        self.o = nn.ModuleList(nn.Linear(H * DV, D) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(H * DV, eps=1e-6) for _ in range(layers))
        self.rab = nn.ParameterList(nn.Parameter(torch.randn(H, BUCKETS) * 0.3) for _ in range(layers))
        pos = torch.arange(t)
        delta = (pos[:, None] - pos[None, :]).abs()
        width = torch.floor(torch.log2(delta.clamp(min=1).float())).long() + 1   # log buckets of |i - j|
        self.register_buffer("buckets", torch.where(delta == 0, 0, width).clamp(max=BUCKETS - 1), persistent=False)
        self.register_buffer("causal", torch.tril(torch.ones(t, t)), persistent=False)
        self.head = nn.Sequential(nn.Linear(2 * D, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, hist, hist_actions, target_item):
        cand = self.items(target_item)
        x = torch.cat([self.items(hist) + self.actions(hist_actions), cand], dim=1)  # the candidate is the last token
        mask = self.causal * (torch.cat([hist, target_item], 1) != 0).float()[:, None, None, :]
        b, t, _ = x.shape
        for i in range(len(self.uvqk)):
            u, v, q, k = torch.split(F.silu(self.uvqk[i](x)), [H * DV, H * DV, H * DQK, H * DQK], dim=-1)
            q, k, v = (z.view(b, t, H, -1).transpose(1, 2) for z in (q, k, v))
            a = F.silu(q @ k.transpose(-1, -2) / math.sqrt(DQK) + self.rab[i][:, self.buckets]) / t * mask
            x = self.o[i](self.norms[i]((a @ v).transpose(1, 2).reshape(b, t, H * DV)) * u) + x
        return torch.sigmoid(self.head(torch.cat([x[:, -1], cand.squeeze(1)], 1)))

model = Hstu().eval()
n, events = 6, 9                                   # one user with 9 events (left-padded with 0), 6 candidates
hist = torch.cat([torch.zeros(1, L - events, dtype=torch.long), torch.randint(1, 1000, (1, events))], 1).expand(n, L)
acts = torch.cat([torch.zeros(1, L - events, dtype=torch.long), torch.randint(1, 4, (1, events))], 1).expand(n, L)
args, names = (hist, acts, torch.randint(1, 1000, (n, 1))), ["hist", "hist_actions", "target_item"]
path = sys.argv[1]
with torch.no_grad():
    want = model(*args)
    torch.onnx.export(model, args, path, input_names=names, output_names=["ctr"], opset_version=17,
                      dynamic_axes={k: {0: "batch"} for k in names + ["ctr"]})
proto = onnx.load(path)
meta = proto.metadata_props.add()
meta.key, meta.value = "rankfn.context", "hist,hist_actions"
onnx.save(proto, path)
print(json.dumps({"inputs": {k: v.tolist() for k, v in zip(names, args)}, "ctr": want.flatten().tolist()}))
`;

const { path, exported } = runTorchExport<{ inputs: Record<string, number[][]>; ctr: number[] }>(EXPORT, "hstu.onnx");
const ids = (rows: number[][]) => tensor("i64", [rows.length, rows[0]!.length], BigInt64Array.from(rows.flat(), BigInt));

using model = loadModel(path);
for (const line of model.inspect().compiler.filter((l) => /fuse-hstu-attention|split-history/.test(l))) console.log(line);
const { hist, hist_actions, target_item } = exported.inputs;
// The history goes once per request (context); its layers' history half runs once, not per candidate.
const { outputs } = await model.rank({ context: { hist: ids([hist![0]!]), hist_actions: ids([hist_actions![0]!]) }, candidates: { target_item: ids(target_item!) } });
const got = Array.from(outputs.ctr!.data);
console.log(`rankfn  ${got.map((v) => v.toFixed(6)).join(" ")}`);
console.log(`PyTorch ${exported.ctr.map((v) => v.toFixed(6)).join(" ")}`);
console.log(`largest difference ${Math.max(...got.map((v, i) => Math.abs(v - exported.ctr[i]!))).toExponential(2)}`);
