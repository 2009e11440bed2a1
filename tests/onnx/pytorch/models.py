#!/usr/bin/env python3
# The PyTorch oracle for rankfn's ONNX importer: builds every architecture of
# architectures.py and sequences.py (seeded, eval mode), exports it with torch.onnx.export at
# opsets 14 and 17 with a dynamic batch axis, runs PyTorch on one fixed batch,
# and writes a manifest the bun tests read (tests/onnx/pytorch/exports.ts).
#
#   /usr/bin/python3 tests/onnx/pytorch/models.py OUT_DIR [--only NAME,NAME]
#
# Manifest (OUT_DIR/manifest.json): {"torch", "onnx", "batch", "models": [{
#   "name", "opset", "path" (relative to OUT_DIR), "context": [input names],
#   "fusions": [regexes rankfn's inspect().compiler must match once it imports],
#   "inputs": [{"name", "dtype": "f32"|"i64", "shape" (batch first), "data": base64 LE}],
#   "outputs": [{"name", "dtype": "f32", "shape", "data": base64 LE}]}]}
#
# Context inputs (user side: profile, history) are named in the ONNX file's
# metadata_props["rankfn.context"]; rankfn sends them once per request (one
# row), but the ONNX file takes batch rows for every input, so the fixed batch
# repeats one user row for them — the batch is one request's candidates.
import argparse
import base64
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import architectures as A  # noqa: E402
import sequences as S  # noqa: E402

BATCH = 5
OPSETS = (14, 17)
HIST = 16


class Inputs:
    """Seeded generators for one fixed batch; context inputs repeat one row."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def dense(self, width):
        return torch.rand((BATCH, width), generator=self.g)

    def ids(self, rows, width, low=0):
        return torch.randint(low, rows, (BATCH, width), generator=self.g)

    def user(self, t):
        """One user's row for every candidate (a context input)."""
        return t[:1].expand(BATCH, *t.shape[1:]).contiguous()

    def history(self, rows, length, min_len=3):
        """Left-padded behaviour sequences (0 = padding) of random lengths."""
        ids = torch.randint(1, rows, (BATCH, length), generator=self.g)
        lens = torch.randint(min_len, length + 1, (BATCH,), generator=self.g)
        pad = torch.arange(length).unsqueeze(0) < (length - lens).unsqueeze(1)
        return ids.masked_fill(pad, 0)

    def events(self, rows, length, n, holes=()):
        """One history of exactly n events, left-padded to length (0 = padding), with its action ids (1..3; 0 on padding);
        `holes`: slots among the events that are padding too (events filtered out)."""
        ids = torch.randint(1, rows, (BATCH, length), generator=self.g)
        actions = torch.randint(1, 4, (BATCH, length), generator=self.g)
        pad = torch.arange(length).unsqueeze(0).expand(BATCH, -1) < length - n
        pad = pad | torch.isin(torch.arange(length), torch.tensor(list(holes), dtype=torch.long)).unsqueeze(0)
        return ids.masked_fill(pad, 0), actions.masked_fill(pad, 0)

    def table_ids(self, widths_rows):
        return [self.ids(n, w) for w, n in widths_rows]

    def columns(self, rows_per_column):
        return torch.cat([self.ids(n, 1) for n in rows_per_column], dim=1)


# nn.Linear exports as Gemm (-> linear at import) or MatMul + Add (-> linear in fuse-linear).
FUSE_LINEAR = r"Gemm -> linear|matmul->linear"
FUSE_BN_ACT = r"fuse-linear: .*\d+ batch-norm, \d+ activation"
# nn.MultiheadAttention's MatMul / Softmax / MatMul chain -> one attention op (runtime/compiler/fuse-attention.ts).
FUSE_MHA = r"fuse-attention: {n} multi-head attention -> attention \(heads={heads}, L={L}, d={d}, mask {mask}\)"
# HSTU's MatMul / SiLU / div / mask / MatMul chain -> one pointwise_attention op (runtime/compiler/fuse-hstu-attention.ts);
# causal with the candidate last, its history half runs once per request (runtime/compiler/split-history-tokens.ts).
FUSE_SPLIT = r"split-history: {n} HSTU attentions? split, their history tokens computed once per request"
FUSE_HSTU = r"fuse-hstu-attention: {n} pointwise attention -> pointwise_attention \(heads=2, L={L}, d=8, mask {mask}, {rab}, n={L}{times}\)"


def specs():
    """Each entry: name, module factory, inputs (ordered), output names, context inputs, expected fusions."""
    s = []

    def add(name, make, inputs, outputs, context=(), fusions=(FUSE_LINEAR,), trace_with_grad=False, emb_scale=0.3, linear_gain=1.0):
        s.append(dict(name=name, make=make, inputs=inputs, outputs=list(outputs), context=list(context), fusions=list(fusions), trace_with_grad=trace_with_grad,
                      emb_scale=emb_scale, linear_gain=linear_gain))

    x = Inputs(1)
    add("dlrm", A.DLRM,
        [("dense", x.dense(13))] + [(f"cat_{i}", x.ids(n, h)) for i, (n, h) in enumerate(zip(A.DLRM.rows, A.DLRM.hots))],
        ["score"],
        fusions=[r"embedding_bag\(sum\) \(×4\); embedding_bag\(mean\)", r"fuse-interaction: 1 .* dot_interaction\(f=7, d=16\)\n",
                 # The max-pooled bag runs as an unpooled lookup + reduce(max) (no max-pooling kernel): the other 5 fuse.
                 r"fuse-embeddings: 5 bags fused", FUSE_LINEAR], emb_scale=1.0)
    x = Inputs(2)
    add("torchrec_dlrm", A.TorchRecDLRM,
        [("dense_features", x.dense(8))] + [(f"sparse_{i}", x.ids(n, 3)) for i, n in enumerate(A.TorchRecDLRM.rows)],
        ["logit"],
        fusions=[r"embedding_bag\(sum\) \(×5\)", r"dot_interaction\(f=6, d=8\) with its columns permuted", r"fuse-embeddings: 5 bags fused", FUSE_LINEAR])
    x = Inputs(3)
    add("dcn_v2", A.DCNv2, [("dense", x.dense(8)), ("ids", x.columns(A.DCNv2.rows))], ["score"],
        fusions=[r"embedding_bag\(gather\)", r"fuse-embeddings: 6 bags fused", r"fuse-cross: 3 DCN cross formulas", FUSE_LINEAR], emb_scale=1.0)
    x = Inputs(4)
    add("deepfm", A.DeepFM, [("fields", x.columns(A.DeepFM.field_dims))], ["ctr"])
    x = Inputs(5)
    add("xdeepfm", A.XDeepFM, [("fields", x.columns(A.XDeepFM.field_dims))], ["ctr"])
    x = Inputs(6)
    add("autoint", A.AutoInt, [("fields", x.columns(A.AutoInt.field_dims))], ["ctr"],
        fusions=[FUSE_MHA.format(n=2, heads=2, L=4, d=8, mask="none ×2"), FUSE_LINEAR])
    x = Inputs(7)
    cross_w = torch.rand((BATCH, 6), generator=x.g) + 0.5
    add("wide_deep", A.WideDeep,
        [("dense", x.dense(6)), ("user_id", x.ids(200, 1)), ("item_id", x.ids(500, 1)), ("cross_ids", x.ids(1000, 6)), ("cross_weights", cross_w)],
        ["ctr"], fusions=[r"embedding_bag\(", FUSE_LINEAR])
    x = Inputs(8)
    add("two_tower", A.TwoTower,
        [("user_id", x.ids(300, 1)), ("user_dense", x.dense(4)), ("hist", x.ids(1000, 10)), ("item_id", x.ids(1000, 1)), ("item_cate", x.ids(40, 1))],
        ["similarity"], fusions=[r"embedding_bag\(gather\)", FUSE_LINEAR])
    x = Inputs(9)
    add("din", S.DIN, [("user_id", x.user(x.ids(200, 1))), ("hist", x.user(x.history(1000, HIST))), ("target_item", x.ids(1000, 1, low=1))],
        ["ctr"], context=["user_id", "hist"], emb_scale=1.0, linear_gain=1.5)
    x = Inputs(10)
    add("dien", S.DIEN, [("user_id", x.user(x.ids(200, 1))), ("hist", x.user(x.history(1000, HIST))), ("target_item", x.ids(1000, 1, low=1))],
        ["ctr"], context=["user_id", "hist"], emb_scale=1.0, linear_gain=1.5)
    x = Inputs(11)
    add("bst", S.BST,
        [("user_id", x.user(x.ids(200, 1))), ("user_dense", x.user(x.dense(3))), ("hist", x.user(x.history(1000, 12))), ("target_item", x.ids(1000, 1, low=1))],
        ["ctr"], context=["user_id", "user_dense", "hist"], trace_with_grad=True,
        fusions=[FUSE_MHA.format(n=1, heads=2, L=13, d=8, mask="none"), FUSE_LINEAR], emb_scale=1.0, linear_gain=1.5)
    x = Inputs(12)
    add("sasrec", S.SASRec, [("log_seqs", x.user(x.history(1000, 20))), ("candidate", x.ids(1000, 1, low=1))], ["logit"], context=["log_seqs"],
        fusions=[FUSE_MHA.format(n=2, heads=2, L=20, d=8, mask="causal ×2"), FUSE_LINEAR])
    x = Inputs(13)
    add("mmoe", A.MMoE, [("dense", x.dense(10)), ("ids", x.columns([100, 200, 300]))], ["ctr", "cvr"],
        fusions=[r"fuse-mixture: 2 .* mixture\(E=4\) \(×2\)", FUSE_LINEAR], emb_scale=1.0, linear_gain=2.0)
    x = Inputs(14)
    add("ple", A.PLE, [("dense", x.dense(6)), ("ids", x.columns([150, 250]))], ["ctr", "cvr"], fusions=[r"fuse-mixture: 5 .* mixture\(E=4\) \(×4\); mixture\(E=6\)", FUSE_LINEAR],
        emb_scale=1.0, linear_gain=2.0)
    x = Inputs(15)
    add("youtube_dnn", S.YouTubeDNN,
        [("watch_hist", x.user(x.ids(1000, 10))), ("search_tokens", x.user(x.ids(500, 6))), ("user_dense", x.user(x.dense(4))),
         ("video_id", x.ids(1000, 1)), ("video_cate", x.ids(50, 1))],
        ["ctr"], context=["watch_hist", "search_tokens", "user_dense"], emb_scale=1.0,
        fusions=[r"embedding_bag\(mean\) \(×2\); embedding_bag\(gather\) \(×2\)", r"fuse-embeddings: 4 bags fused, 2 embedding call",
                 r"insert-broadcast: 3 context values", FUSE_LINEAR, FUSE_BN_ACT])
    x = Inputs(16)
    add("bst_padded", lambda: S.BST(key_padding=True),
        [("user_id", x.user(x.ids(200, 1))), ("user_dense", x.user(x.dense(3))), ("hist", x.user(x.history(1000, 12))), ("target_item", x.ids(1000, 1, low=1))],
        ["ctr"], context=["user_id", "user_dense", "hist"], trace_with_grad=True,
        fusions=[FUSE_MHA.format(n=1, heads=2, L=13, d=8, mask="key padding"), FUSE_LINEAR], emb_scale=1.0, linear_gain=1.5)
    for name, make, events, holes, mask, rab, n in [
        ("hstu", lambda: S.HSTU(), 9, (), "causal, key padding", "rab 5 buckets", 2),
        ("hstu_one_event", lambda: S.HSTU(layers=1), 1, (), "causal, key padding", "rab 5 buckets", 1),
        ("hstu_no_rab", lambda: S.HSTU(rab=False, key_padding=False), HIST, (), "causal", "no rab", 2),
        # Padding between events: hidden queries that still see earlier events (one kernel call each); the head
        # reads every token, so their outputs count.
        ("hstu_gaps", lambda: S.HSTU(layers=2, readout="flatten"), 12, (6, 7, 11), "causal, key padding", "rab 5 buckets", 2),
        ("hstu_bidirectional", lambda: S.HSTU(layers=1, causal=False, readout="flatten"), 10, (9,), "none, key padding", "rab 5 buckets", 1),
        # Negative: a free [heads, L+1, L+1] bias is no rab table; the chain stays general (and still matches).
        ("hstu_full_bias", lambda: S.HSTU(layers=1, full_bias=True), 12, (), None, None, 0),
    ]:
        x = Inputs(20 + len(s))
        hist, actions = x.events(1000, HIST, events, holes)
        fusions = [FUSE_HSTU.format(n=n, L=HIST + 1, mask=mask, rab=rab, times=f" ×{n}" if n > 1 else "") if mask else r"fuse-hstu-attention: 0 pointwise attention", FUSE_LINEAR]
        fusions.append(FUSE_SPLIT.format(n=n) if mask and mask.startswith("causal") else r"split-history: 0 HSTU attentions split")
        add(name, make, [("hist", x.user(hist)), ("hist_actions", x.user(actions)), ("target_item", x.ids(1000, 1, low=1))], ["ctr"],
            context=["hist", "hist_actions"], fusions=fusions, emb_scale=1.0, linear_gain=1.5)
    return s


def not_degenerate(model, seed, emb_scale, linear_gain):
    """Norm layers get non-trivial affine weights and running statistics (defaults are 1/0); embeddings
    and linears are scaled per model so its outputs spread over the batch without saturating a sigmoid."""
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if isinstance(m, nn.Linear):
                m.weight.mul_(linear_gain)
            if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
                m.weight.mul_(emb_scale)
                if getattr(m, "padding_idx", None) is not None:
                    m.weight[m.padding_idx].zero_()


def b64(t):
    a = t.detach().cpu().numpy()
    a = a.astype("<f4") if a.dtype.kind == "f" else a.astype("<i8")
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def described(name, t):
    return {"name": name, "dtype": "f32" if t.dtype.is_floating_point else "i64", "shape": list(t.shape), "data": b64(t)}


def export_module(model, inputs, outputs, out_dir, path, opset, trace_with_grad):
    """Run an eval-mode model on its fixed batch and export it with a dynamic batch axis; PyTorch's outputs."""
    names = [n for n, _ in inputs]
    args = tuple(t for _, t in inputs)
    with torch.no_grad():
        want = model(*args)
    want = want if isinstance(want, tuple) else (want,)
    axes = {n: {0: "batch"} for n in names + outputs}
    # torch 1.13's nn.TransformerEncoderLayer takes its fused fast path (aten::_transformer_encoder_layer_fwd,
    # which has no ONNX export) in eval mode under no_grad; with grad enabled it traces the plain ops.
    # Tracing in eval mode never updates weights, so the export is the same model either way.
    with torch.set_grad_enabled(trace_with_grad):
        torch.onnx.export(model, args, os.path.join(out_dir, path), input_names=names, output_names=outputs,
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    return want


def manifest_entry(name, opset, path, context, fusions, inputs, outputs, want):
    """One export as the manifest lists it: its file, context inputs, expected fusions, inputs and PyTorch's outputs."""
    return {
        "name": name, "opset": opset, "path": path, "context": context, "fusions": fusions,
        "inputs": [described(n, t) for n, t in inputs],
        "outputs": [described(n, t) for n, t in zip(outputs, want)],
    }


def export(spec, opset, out_dir, index):
    torch.manual_seed(100 + index)
    model = spec["make"]()
    not_degenerate(model, index, spec["emb_scale"], spec["linear_gain"])
    model.eval()
    path = f"{spec['name']}.opset{opset}.onnx"
    want = export_module(model, spec["inputs"], spec["outputs"], out_dir, path, opset, spec["trace_with_grad"])
    if spec["context"]:
        proto = onnx.load(os.path.join(out_dir, path))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "rankfn.context", ",".join(spec["context"])
        onnx.save(proto, os.path.join(out_dir, path))
    return manifest_entry(spec["name"], opset, path, spec["context"], spec["fusions"], spec["inputs"], spec["outputs"], want)

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_dir")
    p.add_argument("--only", default="", help="comma-separated model names")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    only = set(filter(None, a.only.split(",")))
    entries = []
    for index, spec in enumerate(specs()):
        if only and spec["name"] not in only:
            continue
        for opset in OPSETS:
            t0 = time.time()
            entries.append(export(spec, opset, a.out_dir, index))
            print(f"exported {spec['name']} opset {opset} in {time.time() - t0:.2f}s", file=sys.stderr, flush=True)
    manifest = {"torch": torch.__version__, "onnx": onnx.__version__, "batch": BATCH, "models": entries}
    tmp = os.path.join(a.out_dir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f)
    os.replace(tmp, os.path.join(a.out_dir, "manifest.json"))


if __name__ == "__main__":
    main()
