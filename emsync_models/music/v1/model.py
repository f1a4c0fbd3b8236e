"""The music generator: a decoder-only transformer conditioned on (valence, arousal) and boundary offsets.

Per position the input is
    token embedding  (+ the V/A condition, concatenated, in "concat" mode)
  + [learned position embedding | MLP(boundary offset feature)]   (two halves of d_model)
In "prepend" mode V/A instead enter as two extra positions before the music (midi-emotion's other
option). A missing label (NaN) uses a learned null vector. V/A may differ per token in concat mode;
prepend mode reads the first value of each row.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from emsync_models.music.v1.vocab import VOCAB_SIZE


@dataclass(frozen=True)
class MusicTransformerConfig:
    vocab_size: int = VOCAB_SIZE
    block_size: int = 512  # music tokens of context
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    d_ff: int = 1024
    dropout: float = 0.1
    conditioning: str = "concat"  # "concat" (continuous_concat) or "prepend"
    d_condition: int = 64  # concat: width taken from the token embedding for V/A (half each)

    @property
    def n_prefix(self) -> int:
        return 2 if self.conditioning == "prepend" else 0

    def to_dict(self) -> dict:
        return asdict(self)


SMALL = MusicTransformerConfig()
# What a shared 2-core CPU can train in under an hour: the committed default checkpoint's shape.
TINY = MusicTransformerConfig(block_size=256, n_layer=2, n_head=4, d_model=128, d_ff=512, d_condition=32)
# EMSYNC's released generator shape (~37M parameters), for users with the paper's data and a GPU.
REFERENCE = MusicTransformerConfig(block_size=1216, n_layer=11, n_head=8, d_model=512, d_ff=2048)
NAMED_CONFIGS = {"tiny": TINY, "small": SMALL, "reference": REFERENCE}


class KVCache:
    """Preallocated keys/values per layer; `length` positions are filled."""

    def __init__(self, config: MusicTransformerConfig, batch: int, max_len: int, dtype: torch.dtype) -> None:
        head_dim = config.d_model // config.n_head
        shape = (batch, config.n_head, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(config.n_layer)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(config.n_layer)]
        self.length = 0
        self.max_len = max_len


class CausalSelfAttention(nn.Module):
    def __init__(self, config: MusicTransformerConfig) -> None:
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
    def __init__(self, config: MusicTransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, config.d_model)
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
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


class MusicTransformer(nn.Module):
    def __init__(self, config: MusicTransformerConfig) -> None:
        super().__init__()
        if config.conditioning not in ("concat", "prepend"):
            raise ValueError(f"conditioning must be 'concat' or 'prepend', not {config.conditioning!r}")
        self.config = config
        d, half = config.d_model, config.d_model // 2
        tok_width = d - config.d_condition if config.conditioning == "concat" else d
        cond_width = config.d_condition // 2 if config.conditioning == "concat" else d
        self.tok_emb = nn.Embedding(config.vocab_size, tok_width)
        self.valence_emb = ScalarEmbedding(64, cond_width)
        self.arousal_emb = ScalarEmbedding(64, cond_width)
        self.pos_emb = nn.Embedding(config.block_size + config.n_prefix, half)
        # EMSYNC's boundary encoder is 1 -> 128 -> 256 at d_model 512; it scales with d_model here.
        # The feature is (8 - t) / 8, so a table step of 1/8000 is 1 ms of boundary offset.
        self.boundary_emb = ScalarEmbedding(d // 4, d - half, lo=0.0, hi=1.0, step=1.0 / 8000)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.vocab_size, bias=False)
        init_weights(self, (self.valence_emb, self.arousal_emb, self.boundary_emb), config.n_layer)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int = 1, max_len: int | None = None) -> KVCache:
        length = max_len or self.config.block_size + self.config.n_prefix
        return KVCache(self.config, batch, length, self.head.weight.dtype)

    def _position_boundary(self, positions: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        pos = self.pos_emb(positions).expand(offsets.shape[0], -1, -1)
        return torch.cat([pos, self.boundary_emb(offsets)], dim=-1)

    def forward(
        self,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        valence: torch.Tensor,
        arousal: torch.Tensor,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab) for music tokens (B, T).

        offsets: (B, T) boundary feature in [0, 1] (see boundaries.offset_feature); valence/arousal:
        (B,) or (B, T), NaN = unknown. With a cache, the tokens continue what the cache holds.
        """
        b, t = tokens.shape
        past = cache.length if cache is not None else 0
        n_prefix = self.config.n_prefix
        first = past == 0
        start = past if not first else n_prefix  # absolute position of tokens[:, 0]
        positions = torch.arange(start, start + t)
        if valence.dim() == 1:
            valence, arousal = valence[:, None].expand(b, t), arousal[:, None].expand(b, t)
        x = self.tok_emb(tokens)
        if self.config.conditioning == "concat":
            x = torch.cat([x, self.valence_emb(valence), self.arousal_emb(arousal)], dim=-1)
        x = x + self._position_boundary(positions, offsets)
        if n_prefix and first:
            prefix = torch.stack([self.valence_emb(valence[:, 0]), self.arousal_emb(arousal[:, 0])], dim=1)
            prefix = prefix + self._position_boundary(torch.arange(n_prefix), torch.zeros(b, n_prefix))
            x = torch.cat([prefix, x], dim=1)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += x.shape[1]
        if n_prefix and first:
            x = x[:, n_prefix:]
        return self.head(self.ln_f(x))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self(batch["x"], batch["offsets"], batch["valence"], batch["arousal"])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["y"].reshape(-1), ignore_index=-100)


def upgrade_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept checkpoints written before the boundary MLP became a ScalarEmbedding."""
    state = dict(state)
    for i in (0, 2):
        for kind in ("weight", "bias"):
            old = f"boundary_emb.{i}.{kind}"
            if old in state:
                state[f"boundary_emb.mlp.{i}.{kind}"] = state.pop(old)
    if "boundary_emb.null" not in state and "boundary_emb.mlp.2.bias" in state:
        state["boundary_emb.null"] = torch.zeros_like(state["boundary_emb.mlp.2.bias"])
    return state
