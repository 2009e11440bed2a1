# Ranking architectures written the way practitioners write them in PyTorch
# (plain nn.Module code, as in facebookresearch/dlrm, torchrec, pytorch-fm,
# DeepCTR-Torch), small enough to export and run in seconds.
# models.py exports each one; this file only defines them (the behaviour-
# sequence models are in sequences.py).
import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(dims, batch_norm=False, dropout=0.1, last_act=True):
    """Linear (+BatchNorm1d) + ReLU + Dropout blocks, as every CTR repo writes its MLP."""
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or last_act:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.ReLU())
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """facebookresearch/dlrm: EmbeddingBag tables (sum/mean/max; some single-hot), bottom MLP,
    dot interaction over the lower triangle (tril_indices -> index_select), top MLP."""

    rows = [100, 200, 50, 300, 80, 120]
    hots = [3, 1, 4, 2, 1, 5]
    modes = ["sum", "sum", "mean", "max", "sum", "sum"]

    def __init__(self, d=16):
        super().__init__()
        self.bot = mlp([13, 32, d])
        self.emb = nn.ModuleList(nn.EmbeddingBag(n, d, mode=m) for n, m in zip(self.rows, self.modes))
        f = 1 + len(self.rows)
        li, lj = torch.tril_indices(f, f, offset=-1)
        self.register_buffer("tri", li * f + lj)
        self.top = mlp([d + f * (f - 1) // 2, 32, 16, 1], last_act=False)

    def forward(self, dense, *cats):
        x = self.bot(dense)
        ly = [bag(ids) for bag, ids in zip(self.emb, cats)]
        t = torch.cat([x] + ly, dim=1).view(x.shape[0], -1, x.shape[1])
        z = torch.bmm(t, torch.transpose(t, 1, 2))
        zflat = z.view(x.shape[0], -1).index_select(1, self.tri)
        return torch.sigmoid(self.top(torch.cat([x, zflat], dim=1)))


class TorchRecDLRM(nn.Module):
    """torchrec DLRM: pooled tables stacked to [N, F, D], InteractionArch indexing bmm with triu_indices."""

    rows = [64, 128, 256, 32, 500]

    def __init__(self, d=8):
        super().__init__()
        self.f = len(self.rows)
        self.dense_arch = mlp([8, 16, d])
        self.tables = nn.ModuleList(nn.EmbeddingBag(n, d, mode="sum") for n in self.rows)
        self.register_buffer("triu_indices", torch.triu_indices(self.f + 1, self.f + 1, offset=1), persistent=False)
        self.over_arch = mlp([d + (self.f + 1) * self.f // 2, 16, 1], last_act=False)

    def forward(self, dense_features, *sparse_features):
        dense = self.dense_arch(dense_features)
        sparse = torch.stack([t(ids) for t, ids in zip(self.tables, sparse_features)], dim=1)
        combined = torch.cat((dense.unsqueeze(1), sparse), dim=1)
        interactions = torch.bmm(combined, torch.transpose(combined, 1, 2))
        flat = interactions[:, self.triu_indices[0], self.triu_indices[1]]
        return self.over_arch(torch.cat((dense, flat), dim=1))


class DCNv2(nn.Module):
    """DCN-v2 (full-rank cross): ids as one [N, F] tensor sliced per field, x_{l+1} = x0 * W x_l + b + x_l."""

    rows = [100, 50, 300, 20, 80, 60]

    def __init__(self, d=8, layers=3):
        super().__init__()
        self.emb = nn.ModuleList(nn.Embedding(n, d) for n in self.rows)
        width = 8 + d * len(self.rows)
        self.cross = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.deep = mlp([width, 32, 16], batch_norm=True)
        self.head = nn.Linear(width + 16, 1)

    def forward(self, dense, ids):
        x0 = torch.cat([dense] + [e(ids[:, i]) for i, e in enumerate(self.emb)], dim=1)
        x = x0
        for layer in self.cross:
            x = x0 * layer(x) + x
        return torch.sigmoid(self.head(torch.cat([x, self.deep(x0)], dim=1)))


class FeaturesEmbedding(nn.Module):
    """pytorch-fm: one table for all fields, per-field offsets added to the ids."""

    def __init__(self, field_dims, d):
        super().__init__()
        self.embedding = nn.Embedding(sum(field_dims), d)
        offsets = [0]
        for n in field_dims[:-1]:
            offsets.append(offsets[-1] + n)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long))

    def forward(self, x):
        return self.embedding(x + self.offsets.unsqueeze(0))


class DeepFM(nn.Module):
    """pytorch-fm DeepFM: linear term + FM over the unpooled lookups + MLP (BatchNorm1d), output [N]."""

    field_dims = [30, 40, 50, 60, 70, 80, 90]

    def __init__(self, d=8):
        super().__init__()
        self.embedding = FeaturesEmbedding(self.field_dims, d)
        self.linear = FeaturesEmbedding(self.field_dims, 1)
        self.bias = nn.Parameter(torch.full((1,), 0.1))
        self.embed_output_dim = len(self.field_dims) * d
        self.mlp = nn.Sequential(mlp([self.embed_output_dim, 32, 16], batch_norm=True), nn.Linear(16, 1))

    def forward(self, x):
        embed_x = self.embedding(x)
        linear = torch.sum(self.linear(x), dim=1) + self.bias
        square_of_sum = torch.sum(embed_x, dim=1) ** 2
        sum_of_square = torch.sum(embed_x ** 2, dim=1)
        fm = 0.5 * torch.sum(square_of_sum - sum_of_square, dim=1, keepdim=True)
        out = linear + fm + self.mlp(embed_x.view(-1, self.embed_output_dim))
        return torch.sigmoid(out.squeeze(1))


class XDeepFM(nn.Module):
    """pytorch-fm xDeepFM: Compressed Interaction Network (Conv1d over outer products, split_half) + MLP."""

    field_dims = [20, 30, 40, 50, 60]

    def __init__(self, d=8, cross_layer_sizes=(8, 8)):
        super().__init__()
        self.embedding = FeaturesEmbedding(self.field_dims, d)
        self.linear = FeaturesEmbedding(self.field_dims, 1)
        f = len(self.field_dims)
        self.conv_layers = nn.ModuleList()
        prev, fc_in = f, 0
        for i, size in enumerate(cross_layer_sizes):
            self.conv_layers.append(nn.Conv1d(f * prev, size, 1, stride=1, dilation=1, bias=True))
            if i != len(cross_layer_sizes) - 1:
                size //= 2
            prev = size
            fc_in += prev
        self.cin_fc = nn.Linear(fc_in, 1)
        self.embed_output_dim = f * d
        self.mlp = nn.Sequential(mlp([self.embed_output_dim, 16]), nn.Linear(16, 1))

    def cin(self, x):
        xs = []
        x0, h = x.unsqueeze(2), x
        for i, conv in enumerate(self.conv_layers):
            x = x0 * h.unsqueeze(1)
            batch_size, f0_dim, fin_dim, embed_dim = x.shape
            x = F.relu(conv(x.view(batch_size, f0_dim * fin_dim, embed_dim)))
            if i != len(self.conv_layers) - 1:
                x, h = torch.split(x, x.shape[1] // 2, dim=1)
            else:
                h = x
            xs.append(x)
        return self.cin_fc(torch.sum(torch.cat(xs, dim=1), 2))

    def forward(self, x):
        e = self.embedding(x)
        out = torch.sum(self.linear(x), dim=1) + self.cin(e) + self.mlp(e.view(-1, self.embed_output_dim))
        return torch.sigmoid(out)


class AutoInt(nn.Module):
    """pytorch-fm AutoInt: nn.MultiheadAttention (sequence-first) over field embeddings, residual, LayerNorm."""

    field_dims = [50, 60, 70, 80]

    def __init__(self, d=16, heads=2, layers=2):
        super().__init__()
        f = len(self.field_dims)
        self.embedding = FeaturesEmbedding(self.field_dims, d)
        self.linear = FeaturesEmbedding(self.field_dims, 1)
        self.atten_embedding = nn.Linear(d, d)
        self.self_attns = nn.ModuleList(nn.MultiheadAttention(d, heads, dropout=0.1) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.V_res_embedding = nn.Linear(d, d)
        self.attn_fc = nn.Linear(f * d, 1)
        self.mlp = nn.Sequential(mlp([f * d, 16]), nn.Linear(16, 1))
        self.out_dim = f * d

    def forward(self, x):
        embed_x = self.embedding(x)
        cross = self.atten_embedding(embed_x).transpose(0, 1)
        for attn in self.self_attns:
            cross, _ = attn(cross, cross, cross)
        cross = self.norm(cross.transpose(0, 1) + self.V_res_embedding(embed_x))
        cross = F.relu(cross).contiguous().view(-1, self.out_dim)
        out = torch.sum(self.linear(x), dim=1) + self.attn_fc(cross) + self.mlp(embed_x.view(-1, self.out_dim))
        return torch.sigmoid(out)


class WideDeep(nn.Module):
    """Wide & Deep: the wide part an EmbeddingBag(sum) over crossed ids with per_sample_weights and
    offsets (flattened ids), the deep part embeddings + dense through an MLP with BatchNorm1d."""

    def __init__(self, d=8):
        super().__init__()
        self.wide = nn.EmbeddingBag(1000, 1, mode="sum")
        self.user = nn.Embedding(200, d)
        self.item = nn.Embedding(500, d)
        self.deep = nn.Sequential(mlp([2 * d + 6, 32, 16], batch_norm=True), nn.Linear(16, 1))

    def forward(self, dense, user_id, item_id, cross_ids, cross_weights):
        offsets = torch.arange(0, cross_ids.numel(), cross_ids.shape[1], device=cross_ids.device)
        wide = self.wide(cross_ids.flatten(), offsets, per_sample_weights=cross_weights.flatten())
        deep = self.deep(torch.cat([self.user(user_id).squeeze(1), self.item(item_id).squeeze(1), dense], dim=1))
        return torch.sigmoid(wide + deep)


class TwoTower(nn.Module):
    """DSSM / two-tower: user tower (k-max pooled history via topk), item tower, cosine of normalized towers."""

    def __init__(self, d=16):
        super().__init__()
        self.user_emb = nn.Embedding(300, d)
        self.item_emb = nn.Embedding(1000, d)
        self.cate_emb = nn.Embedding(40, d)
        self.user_tower = mlp([3 * d + 4, 32, 16], last_act=False)
        self.item_tower = mlp([2 * d, 32, 16], last_act=False)

    def forward(self, user_id, user_dense, hist, item_id, item_cate):
        h = self.item_emb(hist)
        kmax = h.topk(3, dim=1).values.mean(dim=1)
        u = self.user_tower(torch.cat([self.user_emb(user_id).squeeze(1), kmax, h.mean(dim=1), user_dense], dim=1))
        v = self.item_tower(torch.cat([self.item_emb(item_id).squeeze(1), self.cate_emb(item_cate).squeeze(1)], dim=1))
        cos = (F.normalize(u, dim=1) * F.normalize(v, dim=1)).sum(dim=1, keepdim=True)
        return cos / 0.2


class MMoE(nn.Module):
    """MMoE: shared experts stacked (torch.stack), one softmax gate per task, gate-weighted sum, towers (ctr, cvr)."""

    def __init__(self, d=8, experts=4, tasks=2):
        super().__init__()
        self.emb = nn.ModuleList(nn.Embedding(n, d) for n in (100, 200, 300))
        width = 3 * d + 10
        self.experts = nn.ModuleList(mlp([width, 32, 16]) for _ in range(experts))
        self.gates = nn.ModuleList(nn.Linear(width, experts) for _ in range(tasks))
        self.towers = nn.ModuleList(nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1)) for _ in range(tasks))

    def forward(self, dense, ids):
        x = torch.cat([dense] + [e(ids[:, i]) for i, e in enumerate(self.emb)], dim=1)
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # [N, E, 16]
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            g = torch.softmax(gate(x), dim=1).unsqueeze(-1)
            outs.append(torch.sigmoid(tower((g * experts).sum(dim=1))))
        return tuple(outs)


class PLE(nn.Module):
    """Progressive Layered Extraction: two CGC levels of task-specific + shared experts, gates mixing
    them through bmm(gate, stack(experts)), two task towers."""

    def __init__(self, d=8, tasks=2, specific=2, shared=2, levels=2, h=16):
        super().__init__()
        self.tasks, self.specific, self.shared, self.levels = tasks, specific, shared, levels
        self.emb = nn.ModuleList(nn.Embedding(n, d) for n in (150, 250))
        width = 2 * d + 6
        self.task_experts = nn.ModuleList()
        self.shared_experts = nn.ModuleList()
        self.task_gates = nn.ModuleList()
        self.shared_gates = nn.ModuleList()
        for level in range(levels):
            w = width if level == 0 else h
            self.task_experts.append(nn.ModuleList(nn.ModuleList(mlp([w, h]) for _ in range(specific)) for _ in range(tasks)))
            self.shared_experts.append(nn.ModuleList(mlp([w, h]) for _ in range(shared)))
            self.task_gates.append(nn.ModuleList(nn.Linear(w, specific + shared) for _ in range(tasks)))
            if level < levels - 1:
                self.shared_gates.append(nn.Linear(w, tasks * specific + shared))
        self.towers = nn.ModuleList(nn.Sequential(nn.Linear(h, 8), nn.ReLU(), nn.Linear(8, 1)) for _ in range(tasks))

    @staticmethod
    def mix(gate, x, experts):
        g = torch.softmax(gate(x), dim=1).unsqueeze(1)  # [N, 1, E]
        return torch.bmm(g, torch.stack(experts, dim=1)).squeeze(1)

    def forward(self, dense, ids):
        x = torch.cat([dense] + [e(ids[:, i]) for i, e in enumerate(self.emb)], dim=1)
        inputs = [x] * self.tasks + [x]
        for level in range(self.levels):
            task_out = [[e(inputs[t]) for e in self.task_experts[level][t]] for t in range(self.tasks)]
            shared_out = [e(inputs[-1]) for e in self.shared_experts[level]]
            nxt = [self.mix(self.task_gates[level][t], inputs[t], task_out[t] + shared_out) for t in range(self.tasks)]
            if level < self.levels - 1:
                nxt.append(self.mix(self.shared_gates[level], inputs[-1], sum(task_out, []) + shared_out))
            inputs = nxt
        return tuple(torch.sigmoid(tower(inputs[t])) for t, tower in enumerate(self.towers))
