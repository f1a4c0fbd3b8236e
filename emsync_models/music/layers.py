"""Transformer layers both music models are built from: attention with a KV cache, the block, scalar embeddings.

nanoGPT-shaped (pre-LayerNorm, GELU MLP, GPT-2 initialisation). The layers read only the sizes named in
`LayerConfig`, which each model's own config dataclass provides.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class LayerConfig(Protocol):
    n_layer: int
    n_head: int
    d_model: int
    d_ff: int
    dropout: float


class KVCache:
    """Preallocated keys/values per layer; `length` positions are filled."""

    def __init__(self, config: LayerConfig, batch: int, max_len: int, dtype: torch.dtype) -> None:
        head_dim = config.d_model // config.n_head
        shape = (batch, config.n_head, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0
        self.max_len = max_len


class CausalSelfAttention(nn.Module):
    def __init__(self, config: LayerConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        p = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        else:
            start = cache.length
            cache.k[layer][:, :, start : start + t] = k
            cache.v[layer][:, :, start : start + t] = v
            keys, values = cache.k[layer][:, :, : start + t], cache.v[layer][:, :, : start + t]
            if t == 1:
                y = F.scaled_dot_product_attention(q, keys, values)
            elif start == 0:
                y = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
            else:  # a chunk after a prefix: each new query sees the prefix and the chunk up to itself
                mask = torch.ones(t, start + t, dtype=torch.bool, device=q.device).tril(diagonal=start)
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, config: LayerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, config.d_model)
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        if not self.training:  # generation: the same operations without the module calls around them
            ln1, ln2, (fc, act, proj) = self.ln1, self.ln2, self.mlp
            x = x + self.attn(F.layer_norm(x, ln1.normalized_shape, ln1.weight, ln1.bias, ln1.eps), cache, layer)
            h = F.layer_norm(x, ln2.normalized_shape, ln2.weight, ln2.bias, ln2.eps)
            return x + F.linear(F.gelu(F.linear(h, fc.weight, fc.bias), approximate=act.approximate),
                                proj.weight, proj.bias)
        x = x + self.drop(self.attn(self.ln1(x), cache, layer))
        return x + self.drop(self.mlp(self.ln2(x)))


class ScalarEmbedding(nn.Module):
    """A scalar in [lo, hi] through a small MLP; a learned vector stands in for a missing (NaN) value.

    Without autograd in eval mode the MLP is read from a table sampled every `step` (built on first
    use, dropped by train()): one gather instead of several small ops per generated token, off by at
    most step / 2 in the input.
    """

    def __init__(self, hidden: int, out: int, lo: float = -1.0, hi: float = 1.0, step: float = 1e-3) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.GELU(), nn.Linear(hidden, out))
        self.null = nn.Parameter(torch.zeros(out))
        self.lo, self.hi, self.step = lo, hi, step
        self._table: torch.Tensor | None = None

    def reset_parameters(self) -> None:
        # PyTorch's default init, not the 0.02 normal used elsewhere: a scalar input needs first-layer
        # weights of order one, or its signal reaches the residual stream too faint to learn from.
        for layer in (self.mlp[0], self.mlp[2]):
            layer.reset_parameters()
        self._table = None

    def train(self, mode: bool = True) -> ScalarEmbedding:
        self._table = None  # weights may have changed: rebuild the table on next eval use
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        self._table = None
        super()._load_from_state_dict(*args, **kwargs)

    def _lookup(self, value: torch.Tensor) -> torch.Tensor:
        # One read of the attribute: a generator shared by threads may see another thread drop it.
        table = self._table
        if table is None:
            n = round((self.hi - self.lo) / self.step) + 1
            grid = torch.linspace(self.lo, self.hi, n, device=self.null.device).unsqueeze(-1)
            table = self._table = torch.cat([self.mlp(grid), self.null[None]], dim=0)
        index = ((value.clamp(self.lo, self.hi) - self.lo) / self.step).round().long()
        index = torch.where(torch.isnan(value), table.shape[0] - 1, index)
        return table[index]

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        if not self.training and not torch.is_grad_enabled():
            return self._lookup(value)
        missing = torch.isnan(value)
        emb = self.mlp(torch.nan_to_num(value, nan=0.0).unsqueeze(-1))
        return torch.where(missing.unsqueeze(-1), self.null.expand_as(emb), emb)


def _normal_init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            torch.nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)


def init_weights(model: nn.Module, scalars: tuple[ScalarEmbedding, ...], n_layer: int) -> None:
    """GPT-2 initialisation (v1 and v2): N(0, 0.02) for linears and embeddings, PyTorch's default for
    the scalar MLPs, and residual projections scaled by 1/sqrt(2 * n_layer)."""
    model.apply(_normal_init)
    for scalar in scalars:
        scalar.reset_parameters()
    for name, p in model.named_parameters():
        if name.endswith("proj.weight") or (name.startswith("blocks.") and name.endswith("mlp.2.weight")):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
