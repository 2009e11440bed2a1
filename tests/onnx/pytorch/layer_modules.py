# The one-layer PyTorch modules of layers.py, one per layer issue 13 lists (Linear, Embedding,
# EmbeddingBag, LayerNorm, BatchNorm1d, Dropout, MultiheadAttention, TransformerEncoderLayer, GRU,
# normalize, masked_fill, where, cat/stack, tril/triu_indices, topk, cumsum). Modules whose natural
# layout puts the sequence first take batch-first inputs and transpose around the layer, as a
# ranking model feeding them does.
import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS, DIM, HOTS, SEQ = 40, 4, 3, 6  # table rows, embedding width, ids per bag, sequence length


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
