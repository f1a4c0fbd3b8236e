"""The music generator: a decoder-only transformer conditioned on (valence, arousal) and boundary offsets.

Per position the input is
    token embedding  (+ the V/A condition, concatenated, in "concat" mode)
  + [learned position embedding | MLP(boundary offset feature)]   (two halves of d_model)
In "prepend" mode V/A instead enter as two extra positions before the music (midi-emotion's other
option). A missing label (NaN) uses a learned null vector. V/A may differ per token in concat mode;
prepend mode reads the first value of each row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from emsync_models.music.layers import Block, KVCache, ScalarEmbedding, init_weights
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
