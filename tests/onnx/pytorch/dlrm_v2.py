"""A DLRM-v2 (MLPerf recommendation_v2 shape) written the way torchrec users write it in plain PyTorch:
26 nn.EmbeddingBag(sum) tables over multi-hot ids, a bottom MLP, a low-rank DCN-v2 cross network
(x0 * U(V(x)) + x, torchrec's LowRankCrossNet), a top MLP and a sigmoid. Tables are the DLRM-v2 rows
scaled by SCALE, like rankfn's zoo dlrm default, so bench onnx can compare this export with the zoo
model of exactly the same shape. Exported once at opset 17 with a dynamic batch.

Usage: python3 dlrm_v2.py OUT_DIR  (writes dlrm_v2.onnx and manifest.json with the shape)
"""
import json
import os
import sys

import torch
from torch import nn

SCALE = 0.0005
TABLE_ROWS = [40_000_000, 39_060, 17_295, 7_424, 20_265, 3, 7_122, 1_543, 63, 40_000_000, 3_067_956, 405_282, 10, 2_209,
              11_938, 155, 4, 976, 14, 40_000_000, 40_000_000, 40_000_000, 590_152, 12_973, 108, 36]
MULTI_HOT = [3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1]
DENSE, DIM, BOTTOM, TOP, CROSS_LAYERS, CROSS_RANK = 13, 128, [512, 256, 128], [1024, 1024, 512, 256, 1], 3, 512


def mlp(dims, last_act):
    layers = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or last_act:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRMv2(nn.Module):
    def __init__(self, rows):
        super().__init__()
        self.bottom = mlp([DENSE, *BOTTOM], last_act=True)
        self.tables = nn.ModuleList(nn.EmbeddingBag(n, DIM, mode="sum") for n in rows)
        width = DIM * (1 + len(rows))
        self.V = nn.ModuleList(nn.Linear(width, CROSS_RANK, bias=False) for _ in range(CROSS_LAYERS))
        self.U = nn.ModuleList(nn.Linear(CROSS_RANK, width) for _ in range(CROSS_LAYERS))
        self.top = mlp([width, *TOP], last_act=False)

    def forward(self, dense, *cats):
        x0 = torch.cat([self.bottom(dense)] + [t(ids) for t, ids in zip(self.tables, cats)], dim=1)
        x = x0
        for v, u in zip(self.V, self.U):
            x = x0 * u(v(x)) + x
        return torch.sigmoid(self.top(x))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(7)
    rows = [max(1, round(r * SCALE)) for r in TABLE_ROWS]
    model = DLRMv2(rows).eval()
    with torch.no_grad():
        for t in model.tables:
            t.weight.mul_(0.05)
    batch = 4
    g = torch.Generator().manual_seed(8)
    args = (torch.rand((batch, DENSE), generator=g),) + tuple(torch.randint(0, n, (batch, h), generator=g) for n, h in zip(rows, MULTI_HOT))
    names = ["dense"] + [f"cat_{i}" for i in range(len(rows))]
    torch.onnx.export(model, args, os.path.join(out_dir, "dlrm_v2.onnx"), input_names=names, output_names=["ctr"],
                      dynamic_axes={n: {0: "batch"} for n in names + ["ctr"]}, opset_version=17, do_constant_folding=True)
    manifest = {"path": "dlrm_v2.onnx", "table_rows": rows, "multi_hot": MULTI_HOT, "dense": DENSE, "dim": DIM,
                "bottom": BOTTOM, "top": TOP, "cross_layers": CROSS_LAYERS, "cross_rank": CROSS_RANK}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()
