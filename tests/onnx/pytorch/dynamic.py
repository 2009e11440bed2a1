#!/usr/bin/env python3
# The PyTorch oracle for histories whose length differs between requests: DIN and
# SASRec from sequences.py, exported at opsets 14 and 17 with the history length
# as a dynamic axis ("hist_len") next to the batch, and PyTorch's outputs for a
# set of ranking requests (one user, a few candidates), each with a history of
# its own length. DIN masks its padding, so PyTorch computes each request at
# exactly its length (no padding) and rankfn may pad it to any bucket; SASRec
# was trained on histories left-padded to its full length (its attention sees
# the padding), so PyTorch computes it padded to MAX_LEN, as rankfn must too.
#
#   /usr/bin/python3 tests/onnx/pytorch/dynamic.py OUT_DIR
#
# Manifest (OUT_DIR/manifest.json): {"max_len", "models": [{"name", "opset", "path",
#   "context": [input names], "history": input name, "requests": [{"inputs": [tensor...],
#   "outputs": [tensor...]}]}]} with tensors as in models.py ({"name","dtype","shape","data"}).
import argparse
import json
import os
import sys

import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as M  # noqa: E402
import sequences as S  # noqa: E402

MAX_LEN = 32
LENGTHS = (1, 3, 8, 9, 16, 17, 31)
CANDIDATES = 4


def requests(g, name):
    out = []
    for length in LENGTHS:
        hist = torch.randint(1, 1000, (1, length), generator=g)
        items = torch.randint(1, 1000, (CANDIDATES, 1), generator=g)
        if name == "din":
            user = torch.randint(0, 200, (1, 1), generator=g)
            out.append([("user_id", user.expand(CANDIDATES, 1).contiguous()), ("hist", hist.expand(CANDIDATES, length).contiguous()), ("target_item", items)])
        else:
            out.append([("log_seqs", hist.expand(CANDIDATES, length).contiguous()), ("candidate", items)])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_dir")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    specs = [
        ("din", lambda: S.DIN(hist_len=MAX_LEN), ["user_id", "hist", "target_item"], ["ctr"], ["user_id", "hist"], "hist"),
        ("sasrec", lambda: S.SASRec(), ["log_seqs", "candidate"], ["logit"], ["log_seqs"], "log_seqs"),
    ]
    entries = []
    for index, (name, make, inputs, outputs, context, history) in enumerate(specs):
        torch.manual_seed(300 + index)
        model = make()
        M.not_degenerate(model, 300 + index, 1.0, 1.5)
        model.eval()
        g = torch.Generator().manual_seed(400 + index)
        reqs = requests(g, name)
        def padded(r):
            if name == "din":
                return [t for _, t in r]
            seqs, cand = r[0][1], r[1][1]
            return [torch.cat([torch.zeros((seqs.shape[0], MAX_LEN - seqs.shape[1]), dtype=seqs.dtype), seqs], dim=1), cand]
        with torch.no_grad():
            answers = [model(*padded(r)) for r in reqs]
        for opset in M.OPSETS:
            path = f"{name}.dynamic.opset{opset}.onnx"
            axes = {n: {0: "batch"} for n in inputs + outputs}
            axes[history] = {0: "batch", 1: "hist_len"}
            sample = tuple(t for _, t in reqs[-1])
            torch.onnx.export(model, sample, os.path.join(a.out_dir, path), input_names=inputs, output_names=outputs,
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
            proto = onnx.load(os.path.join(a.out_dir, path))
            entry = proto.metadata_props.add()
            entry.key, entry.value = "rankfn.context", ",".join(context)
            onnx.save(proto, os.path.join(a.out_dir, path))
            entries.append({
                "name": name, "opset": opset, "path": path, "context": context, "history": history, "pad_to": "bucket" if name == "din" else "max",
                "requests": [{"inputs": [M.described(n, t) for n, t in r], "outputs": [M.described(o, t) for o, t in zip(outputs, (ans,))]}
                             for r, ans in zip(reqs, answers)],
            })
    with open(os.path.join(a.out_dir, "manifest.json"), "w") as f:
        json.dump({"max_len": MAX_LEN, "models": entries}, f)


if __name__ == "__main__":
    main()
