"""The only trained part: a small transformer that fuses frozen per-modality features.

Each modality's steps are normalised, projected to `d_model`, and tagged with a learned modality
embedding and a learned time embedding; a CLS token attends over all valid steps (masked steps and
missing modalities are key-padding), and a linear head reads the CLS token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from emsync_models.emotion.fused_input import STEPS, mask_key


@dataclass
class FusionConfig:
    dims: dict[str, int]                       # modality -> feature size, in a fixed order
    labels: list[str]                          # class names, output order
    steps: int = STEPS
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    dropout: float = 0.1
    extra: dict[str, str] = field(default_factory=dict)  # free-form provenance (dataset, date)

    def to_dict(self) -> dict:
        return asdict(self)


class FusionTransformer(nn.Module):
    """forward(**batch) -> logits [N, len(labels)]; batch as in `fused_input`, torch tensors."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        self.modalities = list(config.dims)
        d = config.d_model
        self.proj = nn.ModuleDict({m: nn.Linear(dim, d) for m, dim in config.dims.items()})
        # Per-feature standardisation fitted on the training set; identity until `fit_normalisation`.
        for m, dim in config.dims.items():
            self.register_buffer(f"mean_{m}", torch.zeros(dim))
            self.register_buffer(f"std_{m}", torch.ones(dim))
        self.modality_emb = nn.Parameter(torch.randn(len(self.modalities), d) * 0.02)
        self.time_emb = nn.Parameter(torch.randn(config.steps, d) * 0.02)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, config.heads, dim_feedforward=2 * d, dropout=config.dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, len(config.labels))

    def fit_normalisation(self, batch: dict[str, torch.Tensor]) -> None:
        """Set per-feature mean/std from valid steps of a training batch."""
        for m in self.modalities:
            valid = batch[m][batch[mask_key(m)]]
            if valid.shape[0] >= 2:
                getattr(self, f"mean_{m}").copy_(valid.mean(0))
                getattr(self, f"std_{m}").copy_(valid.std(0).clamp_min(1e-3))

    def forward(self, **batch: torch.Tensor) -> torch.Tensor:
        tokens, pads = [], []
        n = next(iter(batch.values())).shape[0]
        for i, m in enumerate(self.modalities):
            x, mask = batch.get(m), batch.get(mask_key(m))
            if x is None or mask is None:  # a modality this caller never extracts: all padding
                x = torch.zeros(n, self.config.steps, self.config.dims[m])
                mask = torch.zeros(n, self.config.steps, dtype=torch.bool)
            x = (x.float() - getattr(self, f"mean_{m}")) / getattr(self, f"std_{m}")
            tokens.append(self.proj[m](x) + self.modality_emb[i] + self.time_emb)
            pads.append(~mask.bool())
        h = torch.cat([self.cls.expand(n, -1, -1), *tokens], dim=1)
        pad = torch.cat([torch.zeros(n, 1, dtype=torch.bool), *pads], dim=1)
        h = self.encoder(h, src_key_padding_mask=pad)
        return self.head(self.norm(h[:, 0]))
