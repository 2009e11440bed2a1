#!/usr/bin/env python3
# The PyTorch oracle for single layers: one tiny module per case (seeded, eval
# mode), each exported with torch.onnx.export at every opset from 13 to 17 with
# a dynamic batch axis, and PyTorch's outputs on one fixed batch. The bun test
# (layers.test.ts) imports every file into rankfn and matches PyTorch.
#
#   /usr/bin/python3 tests/onnx/pytorch/layers.py OUT_DIR [--only NAME,NAME]
#
# Manifest (OUT_DIR/manifest.json): as models.py's — {"torch", "onnx", "batch",
# "seconds" (the whole export), "models": [{"name", "opset", "path", "context": [],
# "fusions": [regexes inspect().compiler must match], "inputs": [tensor...], "outputs": [tensor...]}]}.
# Modules whose natural layout puts the sequence first (nn.MultiheadAttention,
# nn.TransformerEncoderLayer and nn.GRU without batch_first) take batch-first
# inputs and transpose around the layer, as a ranking model feeding them does.
import argparse
import json
import os
import sys
import time

import onnx
import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as M  # noqa: E402
import layer_modules as L  # noqa: E402
import layer_variants as V  # noqa: E402
from layer_modules import DIM, HOTS, ROWS, SEQ  # noqa: E402

BATCH = 5
OPSETS = (13, 14, 15, 16, 17)
LINEAR = M.FUSE_LINEAR
# nn.MultiheadAttention's chain -> one fused attention op, whichever side the batch is on.
MHA = M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="none")
ENCODER_LINEARS = r"fuse-linear: .*\(4 matmul->linear, 4 bias, 2 residual, 1 activation\)"
TARGET_MHA = M.FUSE_MHA.format(n=1, heads=2, L=f"1x{SEQ}", d=4, mask="none")


def cases():
    """Each entry: name, module factory, inputs (name, tensor), output names, trace with grad, and
    regexes rankfn's inspect().compiler must match (the fusions that must fire on the layer)."""
    g = torch.Generator().manual_seed(7)
    dense = lambda *shape: torch.rand((BATCH, *shape), generator=g) * 2 - 1  # noqa: E731
    ids = lambda width, rows=ROWS, low=0: torch.randint(low, rows, (BATCH, width), generator=g)  # noqa: E731
    c = []

    def add(name, make, inputs, outputs=("out",), grad=False, fusions=()):
        c.append(dict(name=name, make=make, inputs=inputs, outputs=list(outputs), grad=grad, fusions=list(fusions)))

    add("linear", L.Linear, [("x", dense(6))], fusions=[LINEAR])
    add("embedding", L.Embedding, [("ids", ids(HOTS))])
    for mode in ("sum", "mean", "max"):
        # One bag kernel per row for sum and mean; max has no pooling kernel (lookup + reduce(max)) but one id is a gather.
        pooled = [] if mode == "max" else [rf"fuse-lookup-pool: 1 lookups -> embedding_bag\({mode}\)"]
        add(f"bag_{mode}_multi_hot", lambda mode=mode: L.Bag(mode), [("ids", ids(HOTS))], fusions=pooled)
        add(f"bag_{mode}_single_hot", lambda mode=mode: L.Bag(mode), [("ids", ids(1))],
            fusions=[r"fuse-lookup-pool: 1 lookups -> embedding_bag\(gather\)" if mode == "max" else pooled[0]])
        add(f"bag_{mode}_offsets", lambda mode=mode: L.OffsetBag(mode), [("ids", ids(HOTS))], fusions=pooled)
    add("bag_sum_offsets_single_hot", lambda: L.OffsetBag("sum"), [("ids", ids(1))], fusions=[r"embedding_bag\((sum|gather)\)"])
    add("bag_per_sample_weights", L.WeightedBag, [("ids", ids(HOTS)), ("weights", torch.rand((BATCH, HOTS), generator=g) + 0.5)])
    add("layer_norm", L.LayerNorm, [("x", dense(3, DIM * 2))])
    add("batch_norm", L.BatchNorm, [("x", dense(8))])
    add("dropout", L.Dropout, [("x", dense(6))], fusions=[LINEAR, r"fuse-linear: .*1 activation"])
    # torch 1.13 takes fused fast paths (no ONNX export) for attention in eval under no_grad: trace with grad.
    add("mha_sequence_first", lambda: L.Attention(False), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA])
    add("mha_batch_first", lambda: L.Attention(True), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA])
    # Either layout: the out-projection and both feed-forward linears take their biases, residuals and ReLU.
    add("encoder_sequence_first", lambda: L.Encoder(False), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA, ENCODER_LINEARS])
    add("encoder_batch_first", lambda: L.Encoder(True), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA, ENCODER_LINEARS])
    add("gru_batch_first", lambda: L.Recurrent(True), [("x", dense(SEQ, 4))], outputs=("seq", "last"))
    add("gru_sequence_first", lambda: L.Recurrent(False), [("x", dense(SEQ, 4))], outputs=("seq", "last"))
    add("normalize", L.Normalize, [("x", dense(3, 5))])
    add("masked_fill", L.MaskedFill, [("x", dense(6)), ("ids", ids(6, rows=3))])
    add("where", L.Where, [("x", dense(6)), ("y", dense(6))])
    add("cat_ids", lambda: L.IdsJoin(False), [("a", ids(2)), ("b", ids(3))])
    add("stack_ids", lambda: L.IdsJoin(True), [("a", ids(2)), ("b", ids(2))])
    add("cat_floats", lambda: L.FloatJoin(False), [("x", dense(3)), ("y", dense(4))])
    add("stack_floats", lambda: L.FloatJoin(True), [("x", dense(2, 3)), ("y", dense(2, 3))])
    add("tril_indices", lambda: L.Pairwise(True), [("x", dense(12))], fusions=[r"fuse-interaction: 1 .*-> dot_interaction\(f=4, d=3\)"])
    add("triu_indices", lambda: L.Pairwise(False), [("x", dense(12))], fusions=[r"fuse-interaction: 1 .*-> dot_interaction\(f=4, d=3\) with its columns permuted"])
    add("topk", L.TopK, [("x", dense(7)), ("y", dense(7))], outputs=("values", "picked"))
    add("cumsum", L.CumSum, [("x", dense(4, 3))])
    # Variants practitioners write around the same layers.
    add("linear_sequence", V.LinearSeq, [("x", dense(SEQ, 6))], fusions=[r"fuse-linear: .*1 matmul->linear, 1 bias, 1 activation"])
    add("embedding_padding_idx", V.PaddedEmbedding, [("ids", ids(5, rows=4))])
    add("layer_norm_two_axes", lambda: nn.LayerNorm((3, DIM * 2)), [("x", dense(3, DIM * 2))])
    add("batch_norm_sequence", V.SeqBatchNorm, [("x", dense(3, 5))])
    add("mha_key_padding", lambda: V.MaskedAttention(False), [("x", dense(SEQ, 8)), ("ids", torch.cat([ids(SEQ - 2, rows=3), torch.ones((BATCH, 2), dtype=torch.long)], 1))],
        grad=True, fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="key padding")])
    add("mha_causal", lambda: V.MaskedAttention(True), [("x", dense(SEQ, 8)), ("ids", ids(SEQ))], grad=True,
        fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="causal")])
    add("mha_target", V.TargetAttention, [("target", dense(8)), ("seq", dense(SEQ, 8))], grad=True, fusions=[TARGET_MHA])
    add("mha_target_sequence_first", lambda: V.TargetAttention(False), [("target", dense(8)), ("seq", dense(SEQ, 8))], grad=True, fusions=[TARGET_MHA])
    add("encoder_norm_first_gelu", V.PreNormEncoder, [("x", dense(SEQ, 8))], grad=True, fusions=[MHA, r"fuse-gelu: 1 "])
    add("gru_two_layers", lambda: V.DeepGRU(2, False), [("x", dense(SEQ, 4))])
    add("gru_bidirectional", lambda: V.DeepGRU(1, True), [("x", dense(SEQ, 4))])
    add("normalize_axes", V.NormalizeAxis, [("x", dense(3, 5))], outputs=("l2_axis1", "l1_last"))
    add("masked_softmax", V.MaskedSoftmax, [("x", dense(6)), ("ids", torch.cat([ids(5, rows=3), torch.ones((BATCH, 1), dtype=torch.long)], 1))])
    add("topk_smallest_lookup", V.TopKIndices, [("x", dense(3, 6))], outputs=("values", "picked"))
    add("cumsum_positions", V.Positions, [("hist", torch.cat([torch.zeros((BATCH, 2), dtype=torch.long), ids(SEQ - 2)], 1))])
    add("cumsum_reversed", V.FlippedCumSum, [("x", dense(5, 2))])
    add("where_scalars", V.Relu0, [("x", dense(7))])
    add("tril_indices_lookup", V.LookupPairwise, [("ids", ids(4))], fusions=[r"fuse-interaction: 1 "])
    add("mha_need_weights", V.AttentionWeights, [("x", dense(SEQ, 8))], outputs=("out", "weights"), grad=True, fusions=[MHA])
    add("encoder_key_padding", V.PaddedEncoder, [("x", dense(SEQ, 8)), ("ids", torch.cat([ids(SEQ - 1, rows=3), torch.ones((BATCH, 1), dtype=torch.long)], 1))],
        grad=True, fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="key padding")])
    add("gru_initial_state", V.StatefulGRU, [("x", dense(SEQ, 4)), ("user", dense(3))])
    add("linear_no_bias", V.NoBiasLinear, [("x", dense(6)), ("seq", dense(SEQ, 6))], outputs=("rows", "sequence"))
    add("embedding_fields", V.FieldsEmbedding, [("ids", ids(2 * HOTS))])
    add("stack_ids_last_axis", V.StackLast, [("a", ids(SEQ)), ("b", ids(SEQ))])
    # F.normalize of an all-zero row divides by its eps clamp: zeros, not NaN.
    add("normalize_zero_rows", L.Normalize, [("x", dense(3, 5) * (torch.arange(BATCH) % 2).reshape(BATCH, 1, 1))])
    padded = lambda: torch.cat([ids(SEQ - 2, rows=3), torch.ones((BATCH, 2), dtype=torch.long)], 1)  # noqa: E731
    add("mha_sequence_first_key_padding", lambda: V.SequenceFirstStack(False), [("x", dense(SEQ, 8)), ("ids", padded())], grad=True,
        fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="key padding")])
    add("encoder_stack_sequence_first", lambda: V.SequenceFirstStack(True), [("x", dense(SEQ, 8)), ("ids", padded())], grad=True,
        fusions=[M.FUSE_MHA.format(n=2, heads=2, L=SEQ, d=4, mask="key padding ×2")])
    add("embedding_positions_expand", lambda: V.ArangePositions(False), [("hist", ids(SEQ))])
    add("embedding_positions_repeat", lambda: V.ArangePositions(True), [("hist", ids(SEQ))])
    add("masked_fill_broadcast", V.BroadcastMask, [("x", dense(SEQ, 3)), ("ids", ids(SEQ, rows=3)), ("gate", dense(1))])
    return c


def export(case, opset, out_dir, index):
    torch.manual_seed(500 + index)
    model = case["make"]()
    M.not_degenerate(model, 500 + index, 1.0, 1.0)
    model.eval()
    path = f"{case['name']}.opset{opset}.onnx"
    want = M.export_module(model, case["inputs"], case["outputs"], out_dir, path, opset, case["grad"])
    onnx.checker.check_model(onnx.load(os.path.join(out_dir, path)))
    return M.manifest_entry(case["name"], opset, path, [], case["fusions"], case["inputs"], case["outputs"], want)

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_dir")
    p.add_argument("--only", default="", help="comma-separated case names")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    only = set(filter(None, a.only.split(",")))
    t0 = time.time()
    entries = []
    for index, case in enumerate(cases()):
        if only and case["name"] not in only:
            continue
        for opset in OPSETS:
            entries.append(export(case, opset, a.out_dir, index))
    seconds = time.time() - t0
    print(f"exported {len(entries)} files in {seconds:.2f}s", file=sys.stderr, flush=True)
    manifest = {"torch": torch.__version__, "onnx": onnx.__version__, "batch": BATCH, "seconds": seconds, "models": entries}
    tmp = os.path.join(a.out_dir, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f)
    os.replace(tmp, os.path.join(a.out_dir, "manifest.json"))


if __name__ == "__main__":
    main()
