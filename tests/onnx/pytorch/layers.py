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
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models as M  # noqa: E402

BATCH = 5
OPSETS = (13, 14, 15, 16, 17)
ROWS, DIM, HOTS, SEQ = 40, 4, 3, 6
LINEAR = M.FUSE_LINEAR
# nn.MultiheadAttention's chain -> one fused attention op, whichever side the batch is on.
MHA = M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="none")
ENCODER_LINEARS = r"fuse-linear: .*\(4 matmul->linear, 4 bias, 2 residual, 1 activation\)"
TARGET_MHA = M.FUSE_MHA.format(n=1, heads=2, L=f"1x{SEQ}", d=4, mask="none")


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(x)


class Embedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(ROWS, DIM)

    def forward(self, ids):
        return self.emb(ids)


class Bag(nn.Module):
    """nn.EmbeddingBag over [N, H] ids (2-D input: one bag per row)."""

    def __init__(self, mode):
        super().__init__()
        self.bag = nn.EmbeddingBag(ROWS, DIM, mode=mode)

    def forward(self, ids):
        return self.bag(ids)


class WeightedBag(nn.Module):
    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(ROWS, DIM, mode="sum")

    def forward(self, ids, weights):
        return self.bag(ids, per_sample_weights=weights)


class OffsetBag(nn.Module):
    """The 1-D form: flattened ids and offsets = arange(0, N·H, H), computed from the batch."""

    def __init__(self, mode):
        super().__init__()
        self.bag = nn.EmbeddingBag(ROWS, DIM, mode=mode)

    def forward(self, ids):
        hots = ids.shape[1]
        offsets = torch.arange(0, ids.shape[0] * hots, hots, dtype=torch.long)
        return self.bag(ids.reshape(-1), offsets)


class LayerNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(DIM * 2)

    def forward(self, x):
        return self.norm(x)


class BatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(8)

    def forward(self, x):
        return self.norm(x)


class Dropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 5)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        return torch.relu(self.drop(self.fc(x)))


class Attention(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.batch_first = batch_first
        self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)

    def forward(self, x):
        q = x if self.batch_first else x.transpose(0, 1)
        out, _ = self.mha(q, q, q)
        return out if self.batch_first else out.transpose(0, 1)


class Encoder(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.batch_first = batch_first
        self.layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, batch_first=batch_first)

    def forward(self, x):
        q = x if self.batch_first else x.transpose(0, 1)
        out = self.layer(q)
        return out if self.batch_first else out.transpose(0, 1)


class Recurrent(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.batch_first = batch_first
        self.gru = nn.GRU(4, 5, batch_first=batch_first)

    def forward(self, x):
        out, h = self.gru(x if self.batch_first else x.transpose(0, 1))
        return (out if self.batch_first else out.transpose(0, 1)), h.squeeze(0)


class Normalize(nn.Module):
    def forward(self, x):
        return F.normalize(x, dim=-1)


class MaskedFill(nn.Module):
    def forward(self, x, ids):
        return x.masked_fill(ids == 0, -1e4)


class Where(nn.Module):
    def forward(self, x, y):
        return torch.where(x > y, x, y * 0.5)


class IdsJoin(nn.Module):
    """Ids joined by torch.cat or torch.stack (and shifted by an integer Add), then looked up."""

    def __init__(self, stack):
        super().__init__()
        self.stack = stack
        self.emb = nn.Embedding(2 * ROWS, DIM)

    def forward(self, a, b):
        ids = torch.stack([a, b + ROWS], dim=1) if self.stack else torch.cat([a, b + ROWS], dim=1)
        return self.emb(ids)


class FloatJoin(nn.Module):
    def __init__(self, stack):
        super().__init__()
        self.stack = stack

    def forward(self, x, y):
        return torch.stack([x, y * 2.0], dim=1) if self.stack else torch.cat([x, y * 2.0], dim=1)


class Pairwise(nn.Module):
    """The pairwise dot products of F vectors, a triangle of them picked by tril_/triu_indices."""

    def __init__(self, lower):
        super().__init__()
        self.lower = lower

    def forward(self, x):
        z = x.reshape(x.shape[0], 4, 3)
        p = torch.bmm(z, z.transpose(1, 2))
        i, j = torch.tril_indices(4, 4, offset=-1) if self.lower else torch.triu_indices(4, 4, offset=1)
        return p[:, i, j]


class TopK(nn.Module):
    def forward(self, x, y):
        values, indices = x.topk(3, dim=1)
        return values, torch.gather(y, 1, indices)


class CumSum(nn.Module):
    def forward(self, x):
        return x.cumsum(dim=1)


class LinearSeq(nn.Module):
    """nn.Linear over a sequence: [N, L, E] (MatMul + Add, not Gemm)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))


class PaddedEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(ROWS, DIM, padding_idx=0)

    def forward(self, ids):
        return self.emb(ids).sum(dim=1)


class SeqBatchNorm(nn.Module):
    """nn.BatchNorm1d over [N, C, L]: per channel, along the sequence."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(x)


class MaskedAttention(nn.Module):
    """Batch-first attention with a key padding mask (id 0 = padding) or a causal mask."""

    def __init__(self, causal):
        super().__init__()
        self.causal = causal
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, ids):
        if self.causal:
            # A causal mask ignores the ids; they still shift the values, so the input stays in the graph.
            mask = torch.triu(torch.ones(SEQ, SEQ, dtype=torch.bool), diagonal=1)
            q = x + (ids == 0).unsqueeze(-1).float()
            out, _ = self.mha(q, q, q, attn_mask=mask)
        else:
            out, _ = self.mha(x, x, x, key_padding_mask=ids == 0)
        return out


class TargetAttention(nn.Module):
    """A target item's query over a behaviour sequence (query length 1, keys of length L); sequence-first,
    the query is target.unsqueeze(0), [1, N, E]."""

    def __init__(self, batch_first=True):
        super().__init__()
        self.batch_first = batch_first
        self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)

    def forward(self, target, seq):
        if self.batch_first:
            return self.mha(target.unsqueeze(1), seq, seq)[0].squeeze(1)
        keys = seq.transpose(0, 1)
        return self.mha(target.unsqueeze(0), keys, keys)[0].squeeze(0)


class PreNormEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation="gelu", norm_first=True, batch_first=True)

    def forward(self, x):
        return self.layer(x)


class DeepGRU(nn.Module):
    def __init__(self, layers, bidirectional):
        super().__init__()
        self.gru = nn.GRU(4, 5, num_layers=layers, bidirectional=bidirectional, batch_first=True)

    def forward(self, x):
        return self.gru(x)[0]


class NormalizeAxis(nn.Module):
    """F.normalize over a middle axis, and with p=1."""

    def forward(self, x):
        return F.normalize(x, p=2, dim=1), F.normalize(x, p=1, dim=-1)


class MaskedSoftmax(nn.Module):
    def forward(self, x, ids):
        return x.masked_fill(ids == 0, float("-inf")).softmax(dim=-1)


class TopKIndices(nn.Module):
    """The k smallest along the last axis of [N, 3, 6]; their indices are ids looked up."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(6, DIM)

    def forward(self, x):
        values, indices = x.topk(2, dim=-1, largest=False)
        return values, self.emb(indices)


class Positions(nn.Module):
    """Position ids from a padding mask by cumsum (0 for padding), then looked up."""

    def __init__(self):
        super().__init__()
        self.pos = nn.Embedding(SEQ + 1, DIM)

    def forward(self, hist):
        present = (hist != 0).long()
        return self.pos(present.cumsum(dim=1) * present)


class FlippedCumSum(nn.Module):
    def forward(self, x):
        return x.flip(dims=[1]).cumsum(dim=1).flip(dims=[1])


class Relu0(nn.Module):
    def forward(self, x):
        return torch.where(x > 0, x, torch.zeros_like(x)) + torch.where(x < -0.5, 1.0, 0.0)


class LookupPairwise(nn.Module):
    """DLRM's self-interaction: lookups of F ids, their dot products with the diagonal, by tril_indices."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(ROWS, 3)

    def forward(self, ids):
        z = self.emb(ids)
        p = torch.bmm(z, z.transpose(1, 2))
        i, j = torch.tril_indices(4, 4)
        return p[:, i, j]


class AttentionWeights(nn.Module):
    """nn.MultiheadAttention's averaged attention weights used as an output (need_weights=True)."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        out, weights = self.mha(x, x, x, need_weights=True)
        return out, weights


class PaddedEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)

    def forward(self, x, ids):
        return self.layer(x, src_key_padding_mask=ids == 0)


class StatefulGRU(nn.Module):
    """nn.GRU from an initial state computed from the user's features; its last state is the output."""

    def __init__(self):
        super().__init__()
        self.init = nn.Linear(3, 5)
        self.gru = nn.GRU(4, 5, batch_first=True)

    def forward(self, x, user):
        _, h = self.gru(x, torch.tanh(self.init(user)).unsqueeze(0))
        return h.squeeze(0)


class BroadcastMask(nn.Module):
    """A per-position mask [N, L] broadcast over the features [N, L, D], and a per-row condition [N, 1]."""

    def forward(self, x, ids, gate):
        masked = x.masked_fill((ids == 0).unsqueeze(-1), 0.0)
        return torch.where(gate > 0, masked.sum(dim=1), -masked.mean(dim=1))


class NoBiasLinear(nn.Module):
    """nn.Linear(bias=False) over rows and over a sequence."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4, bias=False)

    def forward(self, x, seq):
        return self.fc(x), self.fc(seq)


class FieldsEmbedding(nn.Module):
    """nn.Embedding of [N, F, H] ids (F fields of H ids each), summed per field."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(ROWS, DIM)

    def forward(self, ids):
        return self.emb(ids.reshape(ids.shape[0], 2, HOTS)).sum(dim=2)


class StackLast(nn.Module):
    """Ids stacked along a new last axis, [N, L, 2], and one table looked up per column."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(ROWS, DIM)

    def forward(self, a, b):
        pairs = torch.stack([a, b], dim=-1)
        return self.emb(pairs[:, :, 0]) * self.emb(pairs[:, :, 1])


class SequenceFirstStack(nn.Module):
    """nn.TransformerEncoder's default layout: two sequence-first layers and a final LayerNorm, with a key
    padding mask; and a sequence-first nn.MultiheadAttention with the same mask."""

    def __init__(self, stack):
        super().__init__()
        self.stack = stack
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
        self.body = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)) if stack else nn.MultiheadAttention(8, 2)

    def forward(self, x, ids):
        q = x.transpose(0, 1)
        pad = ids == 0
        out = self.body(q, src_key_padding_mask=pad) if self.stack else self.body(q, q, q, key_padding_mask=pad)[0]
        return out.transpose(0, 1)


def cases():
    """Each entry: name, module factory, inputs (name, tensor), output names, trace with grad, and
    regexes rankfn's inspect().compiler must match (the fusions that must fire on the layer)."""
    g = torch.Generator().manual_seed(7)
    dense = lambda *shape: torch.rand((BATCH, *shape), generator=g) * 2 - 1  # noqa: E731
    ids = lambda width, rows=ROWS, low=0: torch.randint(low, rows, (BATCH, width), generator=g)  # noqa: E731
    c = []

    def add(name, make, inputs, outputs=("out",), grad=False, fusions=()):
        c.append(dict(name=name, make=make, inputs=inputs, outputs=list(outputs), grad=grad, fusions=list(fusions)))

    add("linear", Linear, [("x", dense(6))], fusions=[LINEAR])
    add("embedding", Embedding, [("ids", ids(HOTS))])
    for mode in ("sum", "mean", "max"):
        # One bag kernel per row for sum and mean; max has no pooling kernel (lookup + reduce(max)) but one id is a gather.
        pooled = [] if mode == "max" else [rf"fuse-lookup-pool: 1 lookups -> embedding_bag\({mode}\)"]
        add(f"bag_{mode}_multi_hot", lambda mode=mode: Bag(mode), [("ids", ids(HOTS))], fusions=pooled)
        add(f"bag_{mode}_single_hot", lambda mode=mode: Bag(mode), [("ids", ids(1))],
            fusions=[r"fuse-lookup-pool: 1 lookups -> embedding_bag\(gather\)" if mode == "max" else pooled[0]])
        add(f"bag_{mode}_offsets", lambda mode=mode: OffsetBag(mode), [("ids", ids(HOTS))], fusions=pooled)
    add("bag_sum_offsets_single_hot", lambda: OffsetBag("sum"), [("ids", ids(1))], fusions=[r"embedding_bag\((sum|gather)\)"])
    add("bag_per_sample_weights", WeightedBag, [("ids", ids(HOTS)), ("weights", torch.rand((BATCH, HOTS), generator=g) + 0.5)])
    add("layer_norm", LayerNorm, [("x", dense(3, DIM * 2))])
    add("batch_norm", BatchNorm, [("x", dense(8))])
    add("dropout", Dropout, [("x", dense(6))], fusions=[LINEAR, r"fuse-linear: .*1 activation"])
    # torch 1.13 takes fused fast paths (no ONNX export) for attention in eval under no_grad: trace with grad.
    add("mha_sequence_first", lambda: Attention(False), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA])
    add("mha_batch_first", lambda: Attention(True), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA])
    # Either layout: the out-projection and both feed-forward linears take their biases, residuals and ReLU.
    add("encoder_sequence_first", lambda: Encoder(False), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA, ENCODER_LINEARS])
    add("encoder_batch_first", lambda: Encoder(True), [("x", dense(SEQ, 8))], grad=True, fusions=[MHA, ENCODER_LINEARS])
    add("gru_batch_first", lambda: Recurrent(True), [("x", dense(SEQ, 4))], outputs=("seq", "last"))
    add("gru_sequence_first", lambda: Recurrent(False), [("x", dense(SEQ, 4))], outputs=("seq", "last"))
    add("normalize", Normalize, [("x", dense(3, 5))])
    add("masked_fill", MaskedFill, [("x", dense(6)), ("ids", ids(6, rows=3))])
    add("where", Where, [("x", dense(6)), ("y", dense(6))])
    add("cat_ids", lambda: IdsJoin(False), [("a", ids(2)), ("b", ids(3))])
    add("stack_ids", lambda: IdsJoin(True), [("a", ids(2)), ("b", ids(2))])
    add("cat_floats", lambda: FloatJoin(False), [("x", dense(3)), ("y", dense(4))])
    add("stack_floats", lambda: FloatJoin(True), [("x", dense(2, 3)), ("y", dense(2, 3))])
    add("tril_indices", lambda: Pairwise(True), [("x", dense(12))], fusions=[r"fuse-interaction: 1 .*-> dot_interaction\(f=4, d=3\)"])
    add("triu_indices", lambda: Pairwise(False), [("x", dense(12))], fusions=[r"fuse-interaction: 1 .*-> dot_interaction\(f=4, d=3\) with its columns permuted"])
    add("topk", TopK, [("x", dense(7)), ("y", dense(7))], outputs=("values", "picked"))
    add("cumsum", CumSum, [("x", dense(4, 3))])
    # Variants practitioners write around the same layers.
    add("linear_sequence", LinearSeq, [("x", dense(SEQ, 6))], fusions=[r"fuse-linear: .*1 matmul->linear, 1 bias, 1 activation"])
    add("embedding_padding_idx", PaddedEmbedding, [("ids", ids(5, rows=4))])
    add("layer_norm_two_axes", lambda: nn.LayerNorm((3, DIM * 2)), [("x", dense(3, DIM * 2))])
    add("batch_norm_sequence", SeqBatchNorm, [("x", dense(3, 5))])
    add("mha_key_padding", lambda: MaskedAttention(False), [("x", dense(SEQ, 8)), ("ids", torch.cat([ids(SEQ - 2, rows=3), torch.ones((BATCH, 2), dtype=torch.long)], 1))],
        grad=True, fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="key padding")])
    add("mha_causal", lambda: MaskedAttention(True), [("x", dense(SEQ, 8)), ("ids", ids(SEQ))], grad=True,
        fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="causal")])
    add("mha_target", TargetAttention, [("target", dense(8)), ("seq", dense(SEQ, 8))], grad=True, fusions=[TARGET_MHA])
    add("mha_target_sequence_first", lambda: TargetAttention(False), [("target", dense(8)), ("seq", dense(SEQ, 8))], grad=True, fusions=[TARGET_MHA])
    add("encoder_norm_first_gelu", PreNormEncoder, [("x", dense(SEQ, 8))], grad=True, fusions=[MHA, r"fuse-gelu: 1 "])
    add("gru_two_layers", lambda: DeepGRU(2, False), [("x", dense(SEQ, 4))])
    add("gru_bidirectional", lambda: DeepGRU(1, True), [("x", dense(SEQ, 4))])
    add("normalize_axes", NormalizeAxis, [("x", dense(3, 5))], outputs=("l2_axis1", "l1_last"))
    add("masked_softmax", MaskedSoftmax, [("x", dense(6)), ("ids", torch.cat([ids(5, rows=3), torch.ones((BATCH, 1), dtype=torch.long)], 1))])
    add("topk_smallest_lookup", TopKIndices, [("x", dense(3, 6))], outputs=("values", "picked"))
    add("cumsum_positions", Positions, [("hist", torch.cat([torch.zeros((BATCH, 2), dtype=torch.long), ids(SEQ - 2)], 1))])
    add("cumsum_reversed", FlippedCumSum, [("x", dense(5, 2))])
    add("where_scalars", Relu0, [("x", dense(7))])
    add("tril_indices_lookup", LookupPairwise, [("ids", ids(4))], fusions=[r"fuse-interaction: 1 "])
    add("mha_need_weights", AttentionWeights, [("x", dense(SEQ, 8))], outputs=("out", "weights"), grad=True, fusions=[MHA])
    add("encoder_key_padding", PaddedEncoder, [("x", dense(SEQ, 8)), ("ids", torch.cat([ids(SEQ - 1, rows=3), torch.ones((BATCH, 1), dtype=torch.long)], 1))],
        grad=True, fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="key padding")])
    add("gru_initial_state", StatefulGRU, [("x", dense(SEQ, 4)), ("user", dense(3))])
    add("linear_no_bias", NoBiasLinear, [("x", dense(6)), ("seq", dense(SEQ, 6))], outputs=("rows", "sequence"))
    add("embedding_fields", FieldsEmbedding, [("ids", ids(2 * HOTS))])
    add("stack_ids_last_axis", StackLast, [("a", ids(SEQ)), ("b", ids(SEQ))])
    # F.normalize of an all-zero row divides by its eps clamp: zeros, not NaN.
    add("normalize_zero_rows", Normalize, [("x", dense(3, 5) * (torch.arange(BATCH) % 2).reshape(BATCH, 1, 1))])
    padded = lambda: torch.cat([ids(SEQ - 2, rows=3), torch.ones((BATCH, 2), dtype=torch.long)], 1)  # noqa: E731
    add("mha_sequence_first_key_padding", lambda: SequenceFirstStack(False), [("x", dense(SEQ, 8)), ("ids", padded())], grad=True,
        fusions=[M.FUSE_MHA.format(n=1, heads=2, L=SEQ, d=4, mask="key padding")])
    add("encoder_stack_sequence_first", lambda: SequenceFirstStack(True), [("x", dense(SEQ, 8)), ("ids", padded())], grad=True,
        fusions=[M.FUSE_MHA.format(n=2, heads=2, L=SEQ, d=4, mask="key padding ×2")])
    add("masked_fill_broadcast", BroadcastMask, [("x", dense(SEQ, 3)), ("ids", ids(SEQ, rows=3)), ("gate", dense(1))])
    return c


def export(case, opset, out_dir, index):
    torch.manual_seed(500 + index)
    model = case["make"]()
    M.not_degenerate(model, 500 + index, 1.0, 1.0)
    model.eval()
    names = [n for n, _ in case["inputs"]]
    args = tuple(t for _, t in case["inputs"])
    with torch.no_grad():
        want = model(*args)
    want = want if isinstance(want, tuple) else (want,)
    path = f"{case['name']}.opset{opset}.onnx"
    axes = {n: {0: "batch"} for n in names + case["outputs"]}
    with torch.set_grad_enabled(case["grad"]):
        torch.onnx.export(model, args, os.path.join(out_dir, path), input_names=names, output_names=case["outputs"],
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(os.path.join(out_dir, path)))
    return {
        "name": case["name"], "opset": opset, "path": path, "context": [], "fusions": case["fusions"],
        "inputs": [M.described(n, t) for n, t in case["inputs"]],
        "outputs": [M.described(n, t) for n, t in zip(case["outputs"], want)],
    }


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
