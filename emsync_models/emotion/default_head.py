"""The emotion estimate used when no trained fusion checkpoint is configured (no labelled data).

1. Face evidence: the mean FER7 probabilities over the window's face steps; FER's "neutral" mass is
   spread evenly over the six Ekman categories, so a neutral face yields a flat, low-confidence
   distribution instead of a made-up emotion.
2. Coverage: that distribution is blended with uniform by the fraction of sampled frames that
   showed a face, so a scene with no face at all is uniform (confidence ~ 0).
3. Arousal tempering: an audio-visual arousal cue a in [-1, 1] (loudness, onset strength, motion,
   cut rate) re-weights categories by exp(beta * a * arousal_k), nudging towards high-arousal
   categories in loud/fast scenes and towards low-arousal ones in quiet/still scenes.

No parameters are learned; the constants below are hand-set and documented here on purpose.
"""

from __future__ import annotations

import torch
from torch import nn

from emsync_models.emotion.fused_input import mask_key
from emsync_models.emotion.labels import FER7_TO_EKMAN6, FER_NEUTRAL
from emsync_models.emotion.mapping import EKMAN6_VA

TEMPER_BETA = 1.0
# (modality, feature index, reference level, weight): a = tanh(sum w * (masked mean - ref)).
AROUSAL_CUES: tuple[tuple[str, int, float, float], ...] = (
    ("audio", 17, 0.55, 2.0),    # loudness: louder than about -27 dBFS raises arousal
    ("audio", 19, 0.10, 3.0),    # onset strength: busy, percussive audio
    ("visual", 3, 0.08, 4.0),    # motion energy
    ("visual", 4, 0.10, 1.0),    # cuts per second
)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean over valid steps [N, D], number of valid steps [N])."""
    m = mask.float()
    count = m.sum(1)
    return (x * m.unsqueeze(-1)).sum(1) / count.clamp_min(1.0).unsqueeze(-1), count


class DefaultEmotionHead(nn.Module):
    """forward(**batch) -> Ekman-6 probabilities [N, 6] (already normalised, not logits)."""

    def __init__(self, beta: float = TEMPER_BETA) -> None:
        super().__init__()
        self.beta = beta
        self.register_buffer("arousal_coord", torch.from_numpy(EKMAN6_VA[:, 1].copy()))

    def arousal_cue(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        n = next(iter(batch.values())).shape[0]
        z = torch.zeros(n)
        for modality, index, ref, weight in AROUSAL_CUES:
            if modality not in batch:
                continue
            mean, count = _masked_mean(batch[modality].float(), batch[mask_key(modality)].bool())
            z = z + torch.where(count > 0, weight * (mean[:, index] - ref), torch.zeros(n))
        return torch.tanh(z)

    def forward(self, **batch: torch.Tensor) -> torch.Tensor:
        n = next(iter(batch.values())).shape[0]
        uniform = torch.full((n, 6), 1.0 / 6.0)
        if "face" in batch:
            face = batch["face"].float() * batch[mask_key("face")].float().unsqueeze(-1)
            # Buckets average their samples, so summing probabilities and found-flags over buckets
            # gives a mean over the frames that actually showed a face.
            found = face[..., 8].sum(1)
            fer7 = face[..., :7].sum(1) / found.clamp_min(1e-6).unsqueeze(-1)
            ekman = fer7[:, list(FER7_TO_EKMAN6)] + fer7[:, FER_NEUTRAL:FER_NEUTRAL + 1] / 6.0
            ekman = ekman / ekman.sum(-1, keepdim=True).clamp_min(1e-8)
            sampled = batch[mask_key("face")].float().sum(1)
            coverage = (found / sampled.clamp_min(1.0)).clamp(0.0, 1.0).unsqueeze(-1)
            probs = coverage * ekman + (1.0 - coverage) * uniform
        else:
            probs = uniform
        tempered = probs * torch.exp(self.beta * self.arousal_cue(batch).unsqueeze(-1) * self.arousal_coord)
        return tempered / tempered.sum(-1, keepdim=True)
