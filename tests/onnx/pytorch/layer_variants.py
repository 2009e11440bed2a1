# Variants practitioners write around the layers of layer_modules.py (for layers.py): rank-3
# inputs, padding, attention masks, pre-norm and stacked encoders, deeper GRUs, other axes,
# id arithmetic.
import torch
import torch.nn as nn
import torch.nn.functional as F

from layer_modules import DIM, HOTS, ROWS, SEQ


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


class ArangePositions(nn.Module):
    """Item embeddings plus positional embeddings of arange(L) over the batch, written as
    expand(N, -1) (exported as Equal/Where over the shape) or as repeat(N, 1) (a Tile)."""

    def __init__(self, repeat):
        super().__init__()
        self.repeat = repeat
        self.items = nn.Embedding(ROWS, DIM)
        self.pos = nn.Embedding(SEQ, DIM)

    def forward(self, hist):
        steps = torch.arange(hist.shape[1])
        pos = steps.repeat(hist.shape[0], 1) if self.repeat else steps.unsqueeze(0).expand(hist.shape[0], -1)
        return self.items(hist) + self.pos(pos)
