"""The emotion estimate used when no trained fusion checkpoint is configured (no labelled data).

Each modality turns its features into evidence with its own confidence in [0, 1]:

- face (MTCNN + mini-Xception): Ekman-6 from FER7 (FER's "neutral" mass spread evenly, so a neutral
  face lowers confidence instead of inventing an emotion); confidence = mean face weight over the
  sampled frames (detection probability x share of the frame; 0 where no face was seen);
- words, on screen (OCR) and spoken (ASR): Ekman-6 from the NRC lexicon and MiniLM prototypes, and
  a direct valence from VADER; confidence = the words' own evidence strength (`words.py`);
- colour and motion: direct valence/arousal from Valdez & Mehrabian (1994), warmth and motion;
- sound: direct arousal from loudness, onsets, tempo, spectral centroid and flux, direct valence from
  the mode of music where the audio is tonal.

Category evidence (faces, words) is pooled linearly, each modality weighted by its confidence, with
a small uniform prior: with little evidence the distribution stays flat and the reported confidence
(1 - normalised entropy) stays low. Direct valence/arousal evidence (colour, sound, VADER) is blended
with the category-derived point, per axis, again by confidence. Colour and sound also add a category
distribution read off their valence/arousal point (a Gaussian around each category's coordinates),
weighted by their confidence, so a face-free scene with clear cues is not a uniform guess.

No parameters are learned; the constants below are hand-set and documented here on purpose.
"""

from __future__ import annotations

import torch
from torch import nn

from emsync_models.emotion.fused_input import mask_key
from emsync_models.emotion.labels import FER7_TO_EKMAN6, FER_NEUTRAL
from emsync_models.emotion.mapping import DEFAULT_VA_TABLE, circumplex_coordinates

CATEGORY_PRIOR = 0.25       # weight of the uniform distribution in the category pool
VA_PRIOR = 0.1              # weight of the neutral point (0, 0) in the valence/arousal blend
VA_TO_CATEGORY_SIGMA = 0.35  # width of the Gaussian that reads categories off a V/A point
VA_CATEGORY_WEIGHT = 1.0    # how much a direct V/A point counts as category evidence, per unit confidence
VA_DISTINCT = 0.5           # distance from neutral at which a V/A point counts fully as category evidence

# Colour: Valdez, P. & Mehrabian, A. (1994). Effects of color on emotions. Journal of Experimental
# Psychology: General 123(4), 394-409. Their regressions over Munsell brightness (B) and saturation (S):
#   pleasure = 0.69 B + 0.22 S,   arousal = -0.31 B + 0.60 S
# applied here to deviations from a mid-grey reference and squashed with tanh.
VM_PLEASURE = (0.69, 0.22)
VM_AROUSAL = (-0.31, 0.60)
COLOUR_REF = (0.45, 0.30)   # brightness, saturation of unremarkable footage (HSV V and S means)
COLOUR_GAIN = 3.0
# Warm hues (reds, oranges) read as more arousing than cool ones (Jacobs, K. W. & Hustmyer, F. E.
# (1974). Effects of four psychological primary colors on GSR, heart rate and respiration rate.
# Perceptual and Motor Skills 38, 763-766; Valdez & Mehrabian 1994 found the same order for arousal).
WARMTH_AROUSAL = 1.5
# Motion energy and cut rate raise arousal (Hanjalic, A. & Xu, L.-Q. (2005). Affective video content
# representation and modeling. IEEE Trans. Multimedia 7(1), 143-154).
MOTION_REF, MOTION_GAIN = 0.03, 8.0
CUTS_REF, CUTS_GAIN = 0.2, 1.0
COLOUR_CONFIDENCE = 0.35    # colour is a weak cue next to a face or a spoken sentence

# Sound (audio feature index, reference, gain): arousal from loudness, onsets, tempo, brightness, flux.
SOUND_AROUSAL: tuple[tuple[int, float, float], ...] = (
    (17, 0.55, 2.5),   # loudness (RMS dBFS / 60 + 1): louder than about -27 dBFS raises arousal
    (19, 0.10, 3.0),   # onset strength
    (18, 0.15, 2.0),   # spectral centroid / 8 kHz
    (22, 0.15, 1.0),   # spectral flux
)
SOUND_CONFIDENCE = 0.35
SILENCE = 0.15              # loudness below this (about -51 dBFS) carries no music (mode)
TONAL_FLOOR, TONAL_FULL = 0.55, 0.8   # key-profile correlation from which mode counts as music
MODE_GAIN = 3.0

WORD_MODALITIES = ("text", "speech")


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean over valid steps [N, D], number of valid steps [N])."""
    m = mask.float()
    count = m.sum(1)
    return (x * m.unsqueeze(-1)).sum(1) / count.clamp_min(1.0).unsqueeze(-1), count


class Evidence:
    """One modality's evidence for N windows: category probabilities and/or direct V/A, with confidences."""

    def __init__(self, n: int) -> None:
        self.probs = torch.full((n, 6), 1.0 / 6.0)
        self.category_conf = torch.zeros(n)
        self.va = torch.zeros(n, 2)
        self.va_conf = torch.zeros(n, 2)


class DefaultEmotionHead(nn.Module):
    """forward(**batch) -> (Ekman-6 probabilities [N, 6], valence/arousal [N, 2])."""

    def __init__(self, va_table: str = DEFAULT_VA_TABLE) -> None:
        super().__init__()
        self.va_table = va_table
        self.register_buffer("coords", torch.from_numpy(circumplex_coordinates(table=va_table).copy()))

    # -- per-modality evidence -------------------------------------------------------------------

    def face(self, x: torch.Tensor, mask: torch.Tensor) -> Evidence:
        ev = Evidence(x.shape[0])
        face = x.float() * mask.float().unsqueeze(-1)
        weight = face[..., 8]
        fer7 = (face[..., :7] * weight.unsqueeze(-1)).sum(1)
        found = fer7.sum(-1) > 1e-6
        ekman = fer7[:, list(FER7_TO_EKMAN6)] + fer7[:, FER_NEUTRAL:FER_NEUTRAL + 1] / 6.0
        ekman = ekman / ekman.sum(-1, keepdim=True).clamp_min(1e-8)
        ev.probs = torch.where(found.unsqueeze(-1), ekman, ev.probs)
        sampled = mask.float().sum(1)
        ev.category_conf = torch.where(found, weight.sum(1) / sampled.clamp_min(1.0), torch.zeros_like(sampled))
        return ev

    def words(self, x: torch.Tensor, mask: torch.Tensor) -> Evidence:
        ev = Evidence(x.shape[0])
        m = mask.float()
        strength = x[..., 7].float() * m
        total = strength.sum(1)
        has = total > 1e-6
        probs = (x[..., :6].float() * strength.unsqueeze(-1)).sum(1) / total.clamp_min(1e-8).unsqueeze(-1)
        valence = (x[..., 6].float() * strength).sum(1) / total.clamp_min(1e-8)
        conf = total / m.sum(1).clamp_min(1.0)
        ev.probs = torch.where(has.unsqueeze(-1), probs, ev.probs)
        ev.category_conf = torch.where(has, conf, torch.zeros_like(conf))
        ev.va[:, 0] = torch.where(has, valence, torch.zeros_like(valence))
        ev.va_conf[:, 0] = ev.category_conf * valence.abs()
        return ev

    def colour_motion(self, x: torch.Tensor, mask: torch.Tensor) -> Evidence:
        ev = Evidence(x.shape[0])
        mean, count = _masked_mean(x.float(), mask.bool())
        has = (count > 0).float()
        db, ds = mean[:, 0] - COLOUR_REF[0], mean[:, 1] - COLOUR_REF[1]
        pleasure = VM_PLEASURE[0] * db + VM_PLEASURE[1] * ds
        arousal = VM_AROUSAL[0] * db + VM_AROUSAL[1] * ds
        ev.va[:, 0] = torch.tanh(COLOUR_GAIN * pleasure)
        ev.va[:, 1] = torch.tanh(COLOUR_GAIN * arousal + WARMTH_AROUSAL * mean[:, 2]
                                 + MOTION_GAIN * (mean[:, 3] - MOTION_REF) + CUTS_GAIN * (mean[:, 4] - CUTS_REF))
        ev.va_conf = COLOUR_CONFIDENCE * has.unsqueeze(-1).expand(-1, 2).clone()
        return ev

    def sound(self, x: torch.Tensor, mask: torch.Tensor) -> Evidence:
        ev = Evidence(x.shape[0])
        mean, count = _masked_mean(x.float(), mask.bool())
        audible = ((count > 0) & (mean[:, 17] > SILENCE)).float()
        z = torch.zeros(x.shape[0])
        for index, ref, gain in SOUND_AROUSAL:
            z = z + gain * (mean[:, index] - ref)
        # A silent track is evidence too (of calm); only a missing track says nothing.
        present = (count > 0).float()
        ev.va[:, 1] = torch.tanh(z) * present
        ev.va_conf[:, 1] = SOUND_CONFIDENCE * present
        tonal = ((mean[:, 24] - TONAL_FLOOR) / (TONAL_FULL - TONAL_FLOOR)).clamp(0.0, 1.0) * audible
        ev.va[:, 0] = torch.tanh(MODE_GAIN * mean[:, 23]) * tonal
        ev.va_conf[:, 0] = SOUND_CONFIDENCE * tonal
        return ev

    def evidence(self, batch: dict[str, torch.Tensor]) -> dict[str, Evidence]:
        """Evidence of every modality present in `batch` (absent ones are left out)."""
        readers = {"face": self.face, "visual": self.colour_motion, "audio": self.sound,
                   "text": self.words, "speech": self.words}
        out: dict[str, Evidence] = {}
        for modality, read in readers.items():
            if modality in batch and mask_key(modality) in batch:
                out[modality] = read(batch[modality], batch[mask_key(modality)].bool())
        return out

    # -- fusion ----------------------------------------------------------------------------------

    def categories_from_va(self, va: torch.Tensor) -> torch.Tensor:
        d2 = ((va.unsqueeze(1) - self.coords.unsqueeze(0)) ** 2).sum(-1)
        return torch.softmax(-d2 / (2 * VA_TO_CATEGORY_SIGMA ** 2), dim=-1)

    def fuse(self, evidence: dict[str, Evidence], n: int) -> tuple[torch.Tensor, torch.Tensor]:
        uniform = torch.full((n, 6), 1.0 / 6.0)
        cat_sum = CATEGORY_PRIOR * uniform
        cat_w = torch.full((n,), CATEGORY_PRIOR)
        direct_sum = torch.zeros(n, 2)
        direct_w = torch.zeros(n, 2)
        observed_sum = torch.zeros(n, 6)   # category evidence actually observed (faces, words)
        observed_w = torch.zeros(n)
        for ev in evidence.values():
            c = ev.category_conf.unsqueeze(-1)
            cat_sum = cat_sum + c * ev.probs
            cat_w = cat_w + ev.category_conf
            observed_sum = observed_sum + c * ev.probs
            observed_w = observed_w + ev.category_conf
            direct_sum = direct_sum + ev.va_conf * ev.va
            direct_w = direct_w + ev.va_conf
        # The direct V/A point also speaks for the categories near it.
        direct_va = direct_sum / direct_w.clamp_min(1e-8)
        # A point near neutral names no category: its weight grows with its distance from (0, 0).
        distinct = (direct_va.norm(dim=-1) / VA_DISTINCT).clamp(0.0, 1.0)
        direct_conf = direct_w.mean(-1) * distinct
        va_cats = self.categories_from_va(direct_va)
        cat_sum = cat_sum + VA_CATEGORY_WEIGHT * direct_conf.unsqueeze(-1) * va_cats
        cat_w = cat_w + VA_CATEGORY_WEIGHT * direct_conf
        probs = cat_sum / cat_w.unsqueeze(-1)
        # V/A: the category point of the observed categories, blended per axis with the direct cues.
        cat_point = (observed_sum / observed_w.clamp_min(1e-8).unsqueeze(-1)) @ self.coords
        w_cat = observed_w.unsqueeze(-1)
        va = (w_cat * cat_point + direct_sum) / (w_cat + direct_w + VA_PRIOR)
        return probs, va.clamp(-1.0, 1.0)

    def forward(self, **batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = next(iter(batch.values())).shape[0]
        return self.fuse(self.evidence(batch), n)


def contribution_weights(evidence: dict[str, Evidence]) -> dict[str, torch.Tensor]:
    """Per modality [N]: its share of all the confidence that went into the estimate (sums to <= 1)."""
    raw = {m: ev.category_conf + ev.va_conf.sum(-1) for m, ev in evidence.items()}
    total = sum(raw.values(), torch.zeros(1)) + CATEGORY_PRIOR + VA_PRIOR
    return {m: r / total for m, r in raw.items()}

