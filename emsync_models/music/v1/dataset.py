"""Tokenised training corpus (cached as one .npz) and the random-window batch sampler.

Labels: where a piece has real (valence, arousal) labels (the paper's LPD-5 + Spotify data) those are
used; otherwise every training window gets PROXY labels measured on the window itself:
  valence proxy = mode score (best major-key minus best minor-key Krumhansl-Kessler correlation of the
                  duration-weighted pitch-class profile): major and clearly tonal -> high;
  arousal proxy = log pitched-note onsets per second.
Both are mapped to [-1, 1] through their empirical quantiles over training windows. They are stand-ins
for perceived emotion (mode and density are classic correlates of valence and arousal), not ratings.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emsync_models.music.analysis.chords import chord_changes_from_notes
from emsync_models.music.analysis.descriptors import mode_score
from emsync_models.music.v1.boundaries import offset_feature, training_next_boundary
from emsync_models.music.v1.corpus import Piece
from emsync_models.music.v1.transforms import (
    duration_weighted_profile,
    pitched_note_mask,
    swap_mode,
    to_c_shift,
    tonic_of,
    transpose_tokens,
)
from emsync_models.music.v1.vocab import (
    CHORD,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    PAD,
    VOCAB_SIZE,
    EventTokenizer,
)

N_QUANTILES = 101
IGNORE_INDEX = -100


@dataclass
class TokenCorpus:
    tokens: np.ndarray  # int16 (N,), all pieces back to back
    times: np.ndarray  # float32 (N,) clock time after each token
    next_boundary: np.ndarray  # float32 (N,) pending boundary time after each token (inf: none)
    durations: np.ndarray  # float32 (N,) note length at note-on tokens, else 0
    starts: np.ndarray  # int64 (P+1,) piece i spans starts[i]:starts[i+1]
    names: list[str]
    valence: np.ndarray  # float32 (P,) real label or NaN (-> window proxy)
    arousal: np.ndarray
    is_val: np.ndarray  # bool (P,)
    mode_quantiles: np.ndarray  # (101,) raw window feature values at quantiles 0..1
    density_quantiles: np.ndarray
    real_labels: np.ndarray  # bool scalar: True -> NaN labels mean "unknown" (null), never proxies

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = {k: v for k, v in self.__dict__.items() if k != "names"}
        np.savez_compressed(path, names=np.asarray(self.names), **fields)

    @classmethod
    def load(cls, path: Path) -> TokenCorpus:
        with np.load(path, allow_pickle=False) as data:
            values = {k: data[k] for k in data.files}
        values["names"] = [str(n) for n in values["names"]]
        values.setdefault("real_labels", np.asarray(False))
        return cls(**values)

    def piece_ids(self, split: str) -> np.ndarray:
        want_val = split == "val"
        return np.flatnonzero(self.is_val == want_val)

    def piece_tokens(self, i: int) -> np.ndarray:
        return self.tokens[self.starts[i] : self.starts[i + 1]].astype(np.int64)

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[0])


def is_validation(name: str, every: int = 20) -> bool:
    """Stable ~5% split by piece (tempo variants of one score stay on the same side)."""
    return zlib.crc32(name.rsplit("@", 1)[0].encode()) % every == 0


def _note_durations(tokens: np.ndarray, times: np.ndarray) -> np.ndarray:
    durations = np.zeros(tokens.shape[0], dtype=np.float32)
    open_at: dict[int, int] = {}
    for i, tok in enumerate(tokens.tolist()):
        if NOTE_ON_OFFSET <= tok < NOTE_OFF_OFFSET:
            open_at[tok - NOTE_ON_OFFSET] = i
        elif tok >= NOTE_OFF_OFFSET:
            j = open_at.pop(tok - NOTE_OFF_OFFSET, None)
            if j is not None:
                durations[j] = times[i] - times[j]
    return durations


def window_features(tokens: np.ndarray, times: np.ndarray, durations: np.ndarray) -> tuple[float, float]:
    """(mode score, log10 pitched onsets per second) of a token window: the raw proxy features."""
    tokens = tokens.astype(np.int64)
    onsets = int(pitched_note_mask(tokens, NOTE_ON_OFFSET).sum())  # drums are no pitched onsets
    span = max(float(times[-1] - times[0]), 1.0)
    return mode_score(duration_weighted_profile(tokens, durations)), float(np.log10((onsets + 1.0) / span))


def to_unit(value: float | np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Map a raw feature to [-1, 1] through its empirical quantiles."""
    return np.interp(value, quantiles, np.linspace(-1.0, 1.0, len(quantiles)))


def build_corpus(
    pieces: Iterable[Piece], labels: dict[str, tuple[float, float]] | None = None, seed: int = 0
) -> TokenCorpus:
    tok = EventTokenizer()
    chunks: dict[str, list[np.ndarray]] = {"tokens": [], "times": [], "next_boundary": [], "durations": []}
    names: list[str] = []
    lengths: list[int] = []
    for piece in pieces:
        changes = chord_changes_from_notes(piece.notes)
        tokens, times = tok.encode_notes(piece.notes, chord_times=changes, bar_times=piece.bar_times)
        if len(tokens) < 16:
            continue
        chunks["tokens"].append(tokens.astype(np.int16))
        chunks["times"].append(times.astype(np.float32))
        # boundaries at the CHORD tokens' quantised times, so "boundary now" is exactly 0 s away
        chunks["next_boundary"].append(training_next_boundary(tokens, times, times[tokens == CHORD].tolist()))
        chunks["durations"].append(_note_durations(tokens, times))
        names.append(piece.name)
        lengths.append(len(tokens))
    if not names:
        raise ValueError("no usable pieces: the corpus is empty")
    real = bool(labels)
    labels = labels or {}
    valence = np.array([labels.get(n, (np.nan, np.nan))[0] for n in names], dtype=np.float32)
    arousal = np.array([labels.get(n, (np.nan, np.nan))[1] for n in names], dtype=np.float32)
    corpus = TokenCorpus(
        tokens=np.concatenate(chunks["tokens"]),
        times=np.concatenate(chunks["times"]),
        next_boundary=np.concatenate(chunks["next_boundary"]),
        durations=np.concatenate(chunks["durations"]),
        starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        names=names,
        valence=valence,
        arousal=arousal,
        is_val=np.array([is_validation(n) for n in names]),
        mode_quantiles=np.zeros(N_QUANTILES),
        density_quantiles=np.zeros(N_QUANTILES),
        real_labels=np.asarray(real),
    )
    corpus.mode_quantiles, corpus.density_quantiles = _proxy_quantiles(corpus, seed=seed)
    return corpus


def _proxy_quantiles(corpus: TokenCorpus, seed: int, n_windows: int = 4000, block: int = 512) -> tuple:
    rng = np.random.default_rng(seed)
    train = corpus.piece_ids("train")
    if train.size == 0:
        train = np.arange(len(corpus.names))
    feats = []
    for _ in range(n_windows):
        s, e = _random_span(corpus, int(rng.choice(train)), block, rng)
        feats.append(window_features(corpus.tokens[s:e], corpus.times[s:e], corpus.durations[s:e]))
    arr = np.asarray(feats)
    qs = np.linspace(0.0, 1.0, N_QUANTILES)
    return np.quantile(arr[:, 0], qs), np.quantile(arr[:, 1], qs)


def _random_span(corpus: TokenCorpus, piece: int, length: int, rng: np.random.Generator) -> tuple[int, int]:
    a, b = int(corpus.starts[piece]), int(corpus.starts[piece + 1])
    if b - a <= length:
        return a, b
    s = int(rng.integers(a, b - length + 1))
    return s, s + length


class BatchSampler:
    """Random windows of `block + 1` tokens with their boundary offsets and (V, A) labels."""

    def __init__(
        self,
        corpus: TokenCorpus,
        split: str,
        block: int,
        transpose: int = 3,
        label_dropout: float = 0.1,
        seed: int = 0,
        start_prob: float = 0.0,
        mode_swap_prob: float = 0.0,
        label_tokens: int | None = None,
        key_normalise: bool = False,
    ) -> None:
        # start_prob: share of windows that open at the piece's first token, where the key is not yet
        # implied by context and the valence label is what decides it.
        self.start_prob = start_prob
        # mode_swap_prob: share of windows moved to their parallel mode (proxy labels only; see mode_swap)
        self.mode_swap_prob = 0.0 if bool(corpus.real_labels) else mode_swap_prob
        # label_tokens: measure the proxy labels on this many tokens from the window's start, so a short
        # window is labelled by the music it opens (what a label at generation time describes).
        self.label_tokens = max(block + 1, label_tokens or 0)
        # key_normalise: every window is moved to the tonic C (instead of a random +-3 transposition),
        # so major vs minor is E/A/B vs Eb/Ab/Bb and the label can select it without first working out
        # the key; the generator then transposes its output (see generate).
        self.key_normalise = key_normalise
        self.corpus, self.block = corpus, block
        self.transpose, self.label_dropout = transpose, label_dropout
        self.pieces = corpus.piece_ids(split)
        if self.pieces.size == 0:
            raise ValueError(f"the corpus has no {split} pieces")
        lengths = (corpus.starts[self.pieces + 1] - corpus.starts[self.pieces]).astype(np.float64)
        self.weights = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)

    def labels_for(self, piece: int, s: int, e: int, window: np.ndarray | None = None) -> tuple[float, float]:
        """(V, A) of tokens s:e of the corpus; `window` replaces their tokens when they were altered."""
        c = self.corpus
        v, a = float(c.valence[piece]), float(c.arousal[piece])
        if not bool(c.real_labels) and (np.isnan(v) or np.isnan(a)):
            tokens = c.tokens[s:e] if window is None else window
            mode, dens = window_features(tokens, c.times[s:e], c.durations[s:e])
            v = float(to_unit(mode, c.mode_quantiles)) if np.isnan(v) else v
            a = float(to_unit(dens, c.density_quantiles)) if np.isnan(a) else a
        return v, a

    @staticmethod
    def _to_c(window: np.ndarray, span: np.ndarray, durations: np.ndarray) -> np.ndarray:
        tonic = tonic_of(span, durations)  # the key of the whole labelled span, not just the window
        if tonic is None:
            return window
        shift = to_c_shift(tonic)
        for candidate in (shift, shift - 12, shift + 12):
            moved = transpose_tokens(window, candidate)
            if moved is not None:
                return moved
        return window

    def sample(self, batch: int) -> dict[str, torch.Tensor]:
        c, t = self.corpus, self.block
        x = np.full((batch, t), PAD, dtype=np.int64)
        y = np.full((batch, t), IGNORE_INDEX, dtype=np.int64)
        offsets = np.zeros((batch, t), dtype=np.float32)
        va = np.zeros((batch, 2), dtype=np.float32)
        for row in range(batch):
            piece = int(self.rng.choice(self.pieces, p=self.weights))
            s, e = _random_span(c, piece, self.label_tokens, self.rng)
            if self.start_prob and self.rng.random() < self.start_prob:
                s = int(c.starts[piece])
                e = min(int(c.starts[piece + 1]), s + self.label_tokens)
            span, span_durations = c.tokens[s:e].astype(np.int64), c.durations[s:e]
            swapped = None
            if self.mode_swap_prob and self.rng.random() < self.mode_swap_prob:
                swapped = swap_mode(span, span_durations)
                span = span if swapped is None else swapped
            # transposition leaves the mode score and density alone; a mode swap does not
            va[row] = self.labels_for(piece, s, e, swapped)
            e = min(e, s + t + 1)
            window = span[: e - s]
            if self.key_normalise:
                window = self._to_c(window, span, span_durations)
            else:
                for _ in range(4):
                    shift = int(self.rng.integers(-self.transpose, self.transpose + 1))
                    shifted = transpose_tokens(window, shift)
                    if shifted is not None:
                        window = shifted
                        break
            n = len(window) - 1
            x[row, :n], y[row, :n] = window[:-1], window[1:]
            offsets[row, :n] = offset_feature(c.next_boundary[s : e - 1] - c.times[s : e - 1])
            drop = self.rng.random(2) < self.label_dropout
            va[row, drop] = np.nan  # the model learns a "label unknown" null vector
        return {
            "x": torch.from_numpy(x),
            "y": torch.from_numpy(y),
            "offsets": torch.from_numpy(offsets),
            "valence": torch.from_numpy(va[:, 0].copy()),
            "arousal": torch.from_numpy(va[:, 1].copy()),
        }


def unigram_nll(corpus: TokenCorpus, split: str = "val", train_split: str = "train") -> float:
    """Cross-entropy (nats/token) of the train-set unigram distribution on `split` tokens."""
    def counts(ids: np.ndarray) -> np.ndarray:
        idx = np.concatenate([np.arange(corpus.starts[i] + 1, corpus.starts[i + 1]) for i in ids])
        return np.bincount(corpus.tokens[idx].astype(np.int64), minlength=VOCAB_SIZE).astype(np.float64)

    train_counts = counts(corpus.piece_ids(train_split)) + 1.0  # add-one: unseen tokens are not infinite
    p = train_counts / train_counts.sum()
    target = counts(corpus.piece_ids(split))
    return float(-(target * np.log(p)).sum() / target.sum())


def chord_marker_rate(corpus: TokenCorpus) -> float:
    """CHORD markers per second of music, a sanity number for the chord analysis."""
    total_s = sum(float(corpus.times[corpus.starts[i + 1] - 1]) for i in range(len(corpus.names)))
    return float((corpus.tokens == CHORD).sum() / max(total_s, 1e-9))
