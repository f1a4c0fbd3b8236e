"""The v2 music transformer: nanoGPT-shaped, over the beat-grid vocabulary (remi.py).

Per position the input is the sum of
    token embedding + learned position
  + MLP(valence) + MLP(arousal)                 (continuous, per token: the scene's trajectory)
  + MLP(beats to the next boundary, capped)      (EMSYNC's boundary-offset MLP, in the beat domain)
  + style-family embedding
A missing label (NaN valence/arousal, style -1) uses a learned null vector, so label dropout in
training gives the unconditional stream classifier-free guidance needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from emsync_models.music.controls import STYLE_FAMILIES
from emsync_models.music.layers import Block, KVCache, ScalarEmbedding, init_weights

CAP_BEATS = 16.0


@dataclass(frozen=True)
class MusicV2Config:
    vocab_size: int
    block_size: int = 512
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    d_ff: int = 1024
    dropout: float = 0.1
    n_styles: int = len(STYLE_FAMILIES)

    def to_dict(self) -> dict:
        return asdict(self)


class MusicTransformerV2(nn.Module):
    def __init__(self, config: MusicV2Config) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.tok_emb = nn.Embedding(config.vocab_size, d)
        self.pos_emb = nn.Embedding(config.block_size, d)
        self.valence_emb = ScalarEmbedding(64, d)
        self.arousal_emb = ScalarEmbedding(64, d)
        # one table row per twelfth of a beat: the grid's own resolution
        self.boundary_emb = ScalarEmbedding(64, d, lo=0.0, hi=CAP_BEATS, step=1.0 / 12)
        self.style_emb = nn.Embedding(config.n_styles + 1, d)  # last row: style unknown
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.vocab_size, bias=False)
        init_weights(self, (self.valence_emb, self.arousal_emb, self.boundary_emb), config.n_layer)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int = 1) -> KVCache:
        return KVCache(self.config, batch, self.config.block_size, self.head.weight.dtype)

    def forward(
        self,
        tokens: torch.Tensor,
        valence: torch.Tensor,
        arousal: torch.Tensor,
        to_boundary: torch.Tensor,
        style: torch.Tensor,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab). valence/arousal/to_boundary: (B, T) floats (NaN = unknown V/A);
        style: (B,) long, -1 = unknown. With a cache, the tokens continue what it holds."""
        b, t = tokens.shape
        past = cache.length if cache is not None else 0
        positions = torch.arange(past, past + t, device=tokens.device)
        style_row = torch.where(style < 0, self.config.n_styles, style)
        x = (
            self.tok_emb(tokens)
            + self.pos_emb(positions)[None]
            + self.valence_emb(valence)
            + self.arousal_emb(arousal)
            + self.boundary_emb(to_boundary.clamp(0.0, CAP_BEATS))
            + self.style_emb(style_row)[:, None]
        )
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length += t
        return self.head(self.ln_f(x))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self(batch["x"], batch["valence"], batch["arousal"], batch["to_boundary"], batch["style"])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["y"].reshape(-1), ignore_index=-100)
