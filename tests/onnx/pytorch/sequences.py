# Behaviour-sequence ranking models written the way practitioners write them
# in PyTorch (DIN/DIEN as in DeepCTR-Torch, BST, SASRec.pytorch, YouTube DNN):
# a user's history of item ids (0 = padding, left-padded), attention or
# recurrence over it, and the candidate item. models.py exports them; the
# history and user inputs are rankfn context inputs.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from architectures import mlp


class DIN(nn.Module):
    """Deep Interest Network: attention MLP over [q, k, q-k, q*k], padding mask from hist == 0
    (masked_fill before the softmax, where() on the keys), PReLU MLP."""

    def __init__(self, d=16, hist_len=16):
        super().__init__()
        self.item_emb = nn.Embedding(1000, d, padding_idx=0)
        self.user_emb = nn.Embedding(200, d)
        self.att = nn.Sequential(nn.Linear(4 * d, 32), nn.PReLU(), nn.Linear(32, 16), nn.PReLU(), nn.Linear(16, 1))
        self.out = nn.Sequential(nn.Linear(3 * d, 32), nn.PReLU(), nn.Dropout(0.2), nn.Linear(32, 1))

    def forward(self, user_id, hist, target_item):
        mask = hist == 0
        k = self.item_emb(hist)
        k = torch.where(mask.unsqueeze(-1), torch.zeros_like(k), k)
        q = self.item_emb(target_item)  # [N, 1, d]
        qq = q.expand(-1, hist.shape[1], -1)
        scores = self.att(torch.cat([qq, k, qq - k, qq * k], dim=-1)).squeeze(-1)
        scores = scores.masked_fill(mask, -1e9)
        pooled = torch.bmm(torch.softmax(scores, dim=1).unsqueeze(1), k).squeeze(1)
        x = torch.cat([self.user_emb(user_id).squeeze(1), pooled, q.squeeze(1)], dim=1)
        return torch.sigmoid(self.out(x))


class DIEN(nn.Module):
    """DIEN (AIGRU variant): nn.GRU extracts interests from the history, target attention over the
    states, a second GRU over the attention-scaled states; its last hidden state feeds the MLP."""

    def __init__(self, d=16, h=16):
        super().__init__()
        self.item_emb = nn.Embedding(1000, d, padding_idx=0)
        self.user_emb = nn.Embedding(200, d)
        self.extractor = nn.GRU(d, h, batch_first=True)
        self.att = nn.Linear(d, h, bias=False)
        self.evolution = nn.GRU(h, h, batch_first=True)
        self.out = nn.Sequential(nn.Linear(d + h + d, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))

    def forward(self, user_id, hist, target_item):
        mask = hist == 0
        states, _ = self.extractor(self.item_emb(hist))
        q = self.item_emb(target_item).squeeze(1)
        scores = torch.bmm(states, self.att(q).unsqueeze(-1)).squeeze(-1)
        alpha = torch.softmax(scores.masked_fill(mask, -1e9), dim=1)
        _, last = self.evolution(states * alpha.unsqueeze(-1))
        return torch.sigmoid(self.out(torch.cat([self.user_emb(user_id).squeeze(1), last[-1], q], dim=1)))


class BST(nn.Module):
    """Behavior Sequence Transformer: target item appended to the history ids (torch.cat),
    item + positional embeddings, nn.TransformerEncoderLayer(batch_first=True), flatten, MLP.
    key_padding: the padded history slots are the encoder's src_key_padding_mask (ids == 0)."""

    def __init__(self, d=16, hist_len=12, key_padding=False):
        super().__init__()
        self.key_padding = key_padding
        self.item_emb = nn.Embedding(1000, d, padding_idx=0)
        self.pos_emb = nn.Embedding(hist_len + 1, d)
        self.user_emb = nn.Embedding(200, 8)
        self.encoder = nn.TransformerEncoderLayer(d_model=d, nhead=2, dim_feedforward=32, dropout=0.1, batch_first=True)
        self.out = nn.Sequential(mlp([(hist_len + 1) * d + 8 + 3, 64, 16]), nn.Linear(16, 1))

    def forward(self, user_id, user_dense, hist, target_item):
        ids = torch.cat([hist, target_item], dim=1)
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        seq = self.encoder(self.item_emb(ids) + self.pos_emb(positions), src_key_padding_mask=(ids == 0) if self.key_padding else None)
        x = torch.cat([seq.flatten(1), self.user_emb(user_id).squeeze(1), user_dense], dim=1)
        return torch.sigmoid(self.out(x))


class SASRec(nn.Module):
    """SASRec.pytorch: scaled item embeddings + positions from cumsum of the padding mask, causal
    nn.MultiheadAttention blocks with LayerNorms, the last position dotted with the candidate."""

    def __init__(self, d=16, blocks=2, heads=2):
        super().__init__()
        self.d = d
        self.item_emb = nn.Embedding(1000, d, padding_idx=0)
        self.pos_emb = nn.Embedding(32, d, padding_idx=0)
        self.dropout = nn.Dropout(0.2)
        self.attn_norms = nn.ModuleList(nn.LayerNorm(d, eps=1e-8) for _ in range(blocks))
        self.attns = nn.ModuleList(nn.MultiheadAttention(d, heads, dropout=0.2) for _ in range(blocks))
        self.ffn_norms = nn.ModuleList(nn.LayerNorm(d, eps=1e-8) for _ in range(blocks))
        self.ffns = nn.ModuleList(nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Dropout(0.2), nn.Linear(d, d)) for _ in range(blocks))
        self.last_norm = nn.LayerNorm(d, eps=1e-8)

    def forward(self, log_seqs, candidate):
        keep = log_seqs != 0
        positions = torch.cumsum(keep.long(), dim=1) * keep.long()
        seqs = self.dropout(self.item_emb(log_seqs) * math.sqrt(self.d) + self.pos_emb(positions))
        seqs = seqs * keep.unsqueeze(-1)
        tl = seqs.shape[1]
        causal = ~torch.tril(torch.ones((tl, tl), dtype=torch.bool, device=seqs.device))
        for attn_norm, attn, ffn_norm, ffn in zip(self.attn_norms, self.attns, self.ffn_norms, self.ffns):
            seqs = torch.transpose(seqs, 0, 1)
            q = attn_norm(seqs)
            out, _ = attn(q, seqs, seqs, attn_mask=causal)
            seqs = torch.transpose(q + out, 0, 1)
            seqs = ffn_norm(seqs)
            seqs = (seqs + ffn(seqs)) * keep.unsqueeze(-1)
        final = self.last_norm(seqs)[:, -1, :]
        return (final * self.item_emb(candidate).squeeze(1)).sum(dim=-1, keepdim=True)


class YouTubeDNN(nn.Module):
    """YouTube DNN ranking: mean-pooled watch and search histories, user features, the candidate's
    id and category embeddings, one MLP (BatchNorm1d, Dropout) to a sigmoid."""

    def __init__(self, d=16):
        super().__init__()
        self.video_emb = nn.Embedding(1000, d)
        self.token_emb = nn.Embedding(500, d)
        self.cate_emb = nn.Embedding(50, 8)
        self.mlp = nn.Sequential(mlp([3 * d + 8 + 4, 64, 32], batch_norm=True), nn.Linear(32, 1))

    def forward(self, watch_hist, search_tokens, user_dense, video_id, video_cate):
        watched = self.video_emb(watch_hist).mean(dim=1)
        searched = self.token_emb(search_tokens).mean(dim=1)
        x = torch.cat([watched, searched, user_dense, self.video_emb(video_id).squeeze(1), self.cate_emb(video_cate).squeeze(1)], dim=1)
        return torch.sigmoid(self.mlp(x))


def log_buckets(length, buckets):
    """HSTU's (and rankfn.h's) log buckets of |i - j| over `length` positions: the bit width of the
    distance (0 -> 0, 1 -> 1, 2..3 -> 2, 4..7 -> 3, ...), clamped to buckets - 1."""
    pos = torch.arange(length)
    delta = (pos.unsqueeze(1) - pos.unsqueeze(0)).abs()
    width = torch.floor(torch.log2(delta.clamp(min=1).float())).long() + 1
    return torch.where(delta == 0, torch.zeros_like(width), width).clamp(max=buckets - 1)


class HSTU(nn.Module):
    """HSTU ranking (generative-recommenders' padded HSTU, per candidate row): the history's item +
    action embeddings and the candidate item as the last token; N layers of
      u, v, q, k = split(silu(uvqk(x)));  a = silu(q·kᵀ·alpha + rab) / n · mask;  y = o(LN(a·v) · u) + x
    with n = L + 1 (the padded length, as generative-recommenders normalises), mask = causal (the
    candidate sees the history and itself) times the keys' hist != 0 flags, rab = a learned table
    [heads, buckets] gathered at log buckets of |i - j|; the candidate's final token and its
    embedding through an MLP to a sigmoid. causal=False: every token sees every kept token. readout="flatten": the head reads every
    final token (as BST does), not only the candidate's. full_bias: a free [heads, L+1, L+1] bias instead of the
    bucketed table (not expressible as rankfn's rab table: the attention stays unfused)."""

    def __init__(self, d=16, heads=2, dqk=8, dv=8, layers=2, hist_len=16, buckets=5, rab=True, key_padding=True, full_bias=False, causal=True, readout="last"):
        super().__init__()
        self.heads, self.dqk, self.dv, self.key_padding = heads, dqk, dv, key_padding
        t = hist_len + 1
        self.alpha = 1.0 / math.sqrt(dqk)
        self.item_emb = nn.Embedding(1000, d, padding_idx=0)
        self.action_emb = nn.Embedding(4, d, padding_idx=0)
        self.uvqk = nn.ModuleList(nn.Linear(d, heads * (2 * dv + 2 * dqk)) for _ in range(layers))
        self.o = nn.ModuleList(nn.Linear(heads * dv, d) for _ in range(layers))
        self.norm_weight = nn.ParameterList(nn.Parameter(torch.rand(heads * dv) + 0.5) for _ in range(layers))
        self.norm_bias = nn.ParameterList(nn.Parameter(torch.rand(heads * dv) * 0.2 - 0.1) for _ in range(layers))
        if full_bias:
            self.rab = nn.ParameterList(nn.Parameter(torch.randn(heads, t, t) * 0.3) for _ in range(layers))
        elif rab:
            self.rab = nn.ParameterList(nn.Parameter(torch.randn(heads, buckets) * 0.3) for _ in range(layers))
        else:
            self.rab = None
        self.full_bias = full_bias
        self.register_buffer("buckets", log_buckets(t, buckets), persistent=False)
        self.register_buffer("causal", torch.tril(torch.ones(t, t)) if causal else torch.ones(t, t), persistent=False)
        self.readout = readout
        self.head = nn.Sequential(nn.Linear((t + 1 if readout == "flatten" else 2) * d, 32), nn.ReLU(), nn.Linear(32, 1))

    def layer(self, i, x, mask):
        b, t, _ = x.shape
        h = F.silu(self.uvqk[i](x))
        u, v, q, k = torch.split(h, [self.heads * self.dv, self.heads * self.dv, self.heads * self.dqk, self.heads * self.dqk], dim=-1)
        q = q.view(b, t, self.heads, self.dqk).transpose(1, 2)
        k = k.view(b, t, self.heads, self.dqk).transpose(1, 2)
        v = v.view(b, t, self.heads, self.dv).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) * self.alpha
        if self.rab is not None:
            s = s + (self.rab[i] if self.full_bias else self.rab[i][:, self.buckets])
        a = F.silu(s) / t * mask
        o = torch.matmul(a, v).transpose(1, 2).reshape(b, t, self.heads * self.dv)
        return self.o[i](F.layer_norm(o, (self.heads * self.dv,), self.norm_weight[i], self.norm_bias[i], eps=1e-6) * u) + x

    def forward(self, hist, hist_actions, target_item):
        ids = torch.cat([hist, target_item], dim=1)
        cand = self.item_emb(target_item)
        x = torch.cat([self.item_emb(hist) + self.action_emb(hist_actions), cand], dim=1)
        mask = self.causal
        if self.key_padding:
            mask = mask * (ids != 0).float().unsqueeze(1).unsqueeze(2)  # [B, 1, 1, L+1] keys
        for i in range(len(self.uvqk)):
            x = self.layer(i, x, mask)
        final = x.flatten(1) if self.readout == "flatten" else x[:, -1, :]
        return torch.sigmoid(self.head(torch.cat([final, cand.squeeze(1)], dim=1)))
