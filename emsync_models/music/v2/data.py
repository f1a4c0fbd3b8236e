"""Music corpus v2 (corpus/layout.py) as training data for the v2 generator: token arrays and batches.

Every 4/4 piece is moved to C (major or minor, by its opening key: the generator writes in C and moves
the result to a key of its own), encoded with the beat tokenizer and its chart, and stored with the
beat clock and, per token, the beats to the next chord token (the boundary the model learns to turn
the harmony at). Labels are the corpus's proxies: valence, arousal, and the groove's style family.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from emsync_models.music.corpus.layout import PieceRow, load_manifest, load_piece
from emsync_models.music.v2.model import CAP_BEATS, STYLE_FAMILIES

if TYPE_CHECKING:  # tokenising needs them, training does not (it runs on GPU images without them)
    import symusic

    from emsync_models.music.v2.remi import BeatTokenizer, ChartChord

log = logging.getLogger(__name__)

_STYLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("waltz", ("waltz",)),
    ("march", ("march",)),
    ("ballad", ("ballad", "slow", "lullaby", "hymn", "spiritual", "mellow", "nitejazz", "evans")),
    ("latin", ("bossa", "rhumba", "bolero", "beguine", "tango", "chacha", "samba", "mambo", "salsa", "son",
               "merengue", "calypso", "afro", "latin", "reggae", "ska", "mambo", "cumbia")),
    ("swing", ("swing", "foxtrot", "broadway", "showtune", "softshoe", "strut", "bigband", "dixie",
               "charleston", "jive", "quickstep")),
    ("jazz", ("jazz", "bebop", "blues", "boogie", "shuffle")),
    ("funk", ("funk", "soul", "rb", "disco")),
    ("country", ("country", "western", "bluegrass")),
    ("folk", ("folk", "polka", "celtic", "irish", "chorale", "romantext", "v1-score")),
    ("rock", ("rock", "boneym", "desert", "punk", "metal")),
    ("pop", ("pop", "beat", "twist", "zydeco", "trance", "hip")),
)


def style_family(groove_family: str) -> int:
    """Index into STYLE_FAMILIES for an MMA groove family (or a source name); 'other' when none fits."""
    name = groove_family.lower()
    for style, words in _STYLE_WORDS:
        if any(w in name for w in words):
            return STYLE_FAMILIES.index(style)
    return STYLE_FAMILIES.index("other")


def key_shift(tonic_pc: int) -> int:
    """Semitones (-5..+6) that move a key with this tonic to C."""
    s = (-tonic_pc) % 12
    return s - 12 if s > 6 else s


def transpose(score: symusic.Score, chart: list[ChartChord], semitones: int) -> tuple[symusic.Score, list[ChartChord]]:
    from emsync_models.music.v2.remi import ChartChord

    score = score.copy()
    for track in score.tracks:
        if not track.is_drum:
            track.shift_pitch(semitones, inplace=True)
    return score, [ChartChord(c.beat, (c.root + semitones) % 12, c.quality) for c in chart]


def beats_to_next_chord(tokens: np.ndarray, beats: np.ndarray, is_chord: np.ndarray) -> np.ndarray:
    """Per token: beats from its clock to the next chord token after it (CAP_BEATS when none is left)."""
    chord_idx = np.flatnonzero(is_chord)
    nxt = np.searchsorted(chord_idx, np.arange(len(tokens)), side="right")
    out = np.full(len(tokens), CAP_BEATS, dtype=np.float32)
    has = nxt < len(chord_idx)
    out[has] = beats[chord_idx[nxt[has]]] - beats[has]
    return np.clip(out, 0.0, CAP_BEATS)


@dataclass
class TokenCorpusV2:
    tokens: np.ndarray  # int32, all pieces concatenated
    beats: np.ndarray  # float32 clock per token
    to_boundary: np.ndarray  # float32
    starts: np.ndarray  # int64, piece i is tokens[starts[i]:starts[i+1]]
    valence: np.ndarray  # float32 per piece
    arousal: np.ndarray
    style: np.ndarray  # int64 per piece
    mode_minor: np.ndarray  # bool per piece (opening key)
    split: np.ndarray  # str per piece
    ids: np.ndarray  # str per piece

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **self.__dict__)
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> TokenCorpusV2:
        with np.load(path, allow_pickle=False) as data:
            return TokenCorpusV2(**{k: data[k] for k in data.files})

    def piece_ids(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)

    def label_range(self, lo: float = 5.0, hi: float = 95.0) -> dict[str, tuple[float, float]]:
        """The training labels' percentile range per label (the generator maps the user's [-1, 1] onto it)."""
        train = self.split == "train"
        return {name: (float(np.percentile(values[train], lo)), float(np.percentile(values[train], hi)))
                for name, values in (("valence", self.valence), ("arousal", self.arousal))}

    def style_means(self) -> dict[int, tuple[float, float]]:
        """Mean (valence, arousal) of each style family's training pieces (to pick a style from V/A)."""
        out = {}
        train = self.split == "train"
        for s in np.unique(self.style[train]):
            sel = train & (self.style == s)
            out[int(s)] = (float(self.valence[sel].mean()), float(self.arousal[sel].mean()))
        return out


_TOKENISER: dict[str, BeatTokenizer] = {}  # the process's tokenizer: sent once per worker, not once per piece


def _set_tokenizer(tokenizer: BeatTokenizer) -> None:
    _TOKENISER["tok"] = tokenizer


def _tokenise_piece(job: tuple[Path, PieceRow]) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """(id, tokens, beats) of one corpus piece moved to C; (id, None, None) when its MIDI is unreadable."""
    import symusic

    from emsync_models.music.v2.remi import chart_from_labels

    corpus_dir, row = job
    tokenizer = _TOKENISER["tok"]
    piece = load_piece(corpus_dir, row.id, row)
    try:
        score = symusic.Score(str(piece.midi_path))
    except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the build
        log.warning("%s: unreadable MIDI (%s), skipped", row.id, exc)
        return row.id, None, None
    score, chart = transpose(score, chart_from_labels(piece.labels.chords), key_shift(row.tonic_pc))
    ids = np.asarray(tokenizer.encode(score, chart), dtype=np.int32)
    beats = np.asarray([b for b, _ in tokenizer.timeline(ids)], dtype=np.float32)
    return row.id, ids, beats


def build_token_corpus(
    corpus_dir: Path, tokenizer: BeatTokenizer, progress: Callable[[str], None] | None = None, workers: int = 1
) -> TokenCorpusV2:
    """The corpus's 4/4 pieces tokenised, in manifest order (the same arrays for any `workers`)."""
    rows = [r for r in load_manifest(corpus_dir) if r.beats_per_bar == 4]
    parts: dict[str, list] = {k: [] for k in ("tokens", "beats", "to_boundary")}
    meta: dict[str, list] = {k: [] for k in ("valence", "arousal", "style", "mode_minor", "split", "ids")}
    starts = [0]
    is_chord_id = np.zeros(len(tokenizer), dtype=bool)
    is_chord_id[tokenizer.chord_ids] = True
    jobs = [(Path(corpus_dir), row) for row in rows]
    if workers > 1:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_set_tokenizer,
                                                         initargs=(tokenizer,))
        results = pool.imap(_tokenise_piece, jobs, chunksize=16)
    else:
        _set_tokenizer(tokenizer)
        pool, results = None, map(_tokenise_piece, jobs)
    try:
        for n, (row, (_, ids, beats)) in enumerate(zip(rows, results, strict=True)):
            if ids is None or beats is None:
                continue
            parts["tokens"].append(ids)
            parts["beats"].append(beats)
            parts["to_boundary"].append(beats_to_next_chord(ids, beats, is_chord_id[ids]))
            starts.append(starts[-1] + len(ids))
            meta["valence"].append(row.valence)
            meta["arousal"].append(row.arousal)
            meta["style"].append(style_family(row.groove_family or row.source))
            meta["mode_minor"].append(row.mode == "minor")
            meta["split"].append(row.split)
            meta["ids"].append(row.id)
            if progress and (n + 1) % 500 == 0:
                progress(f"tokenised {n + 1}/{len(rows)} pieces")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return TokenCorpusV2(
        tokens=np.concatenate(parts["tokens"]), beats=np.concatenate(parts["beats"]),
        to_boundary=np.concatenate(parts["to_boundary"]), starts=np.asarray(starts, dtype=np.int64),
        valence=np.asarray(meta["valence"], dtype=np.float32), arousal=np.asarray(meta["arousal"], dtype=np.float32),
        style=np.asarray(meta["style"], dtype=np.int64), mode_minor=np.asarray(meta["mode_minor"], dtype=bool),
        split=np.asarray(meta["split"]), ids=np.asarray(meta["ids"]),
    )


class BatchSamplerV2:
    """Random windows of `block + 1` tokens from one split, labels dropped at `label_dropout` for CFG."""

    def __init__(self, corpus: TokenCorpusV2, split: str, block: int, label_dropout: float = 0.1,
                 seed: int = 0, pad: int = 0) -> None:
        self.c, self.block, self.dropout, self.pad = corpus, block, label_dropout, pad
        self.pieces = corpus.piece_ids(split)
        if not len(self.pieces):
            raise ValueError(f"the corpus has no {split!r} pieces")
        lengths = corpus.starts[self.pieces + 1] - corpus.starts[self.pieces]
        self.weights = lengths / lengths.sum()
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int) -> dict[str, torch.Tensor]:
        c, n = self.c, self.block + 1
        x = np.full((batch, n), self.pad, dtype=np.int64)
        tb = np.full((batch, n), CAP_BEATS, dtype=np.float32)
        valid = np.zeros((batch, n), dtype=bool)
        v, a = np.zeros(batch, np.float32), np.zeros(batch, np.float32)
        style = np.zeros(batch, np.int64)
        for row, p in enumerate(self.rng.choice(self.pieces, size=batch, p=self.weights)):
            lo, hi = int(c.starts[p]), int(c.starts[p + 1])
            start = lo + int(self.rng.integers(0, max(hi - lo - n, 0) + 1))
            end = min(start + n, hi)
            x[row, : end - start] = c.tokens[start:end]
            tb[row, : end - start] = c.to_boundary[start:end]
            valid[row, : end - start] = True
            v[row], a[row], style[row] = c.valence[p], c.arousal[p], c.style[p]
        drop = self.rng.random(batch) < self.dropout
        v[drop], a[drop] = np.nan, np.nan
        style[self.rng.random(batch) < self.dropout] = -1
        y = np.where(valid[:, 1:], x[:, 1:], -100)
        t = self.block
        return {
            "x": torch.from_numpy(x[:, :-1]),
            "y": torch.from_numpy(y),
            "valence": torch.from_numpy(np.repeat(v[:, None], t, axis=1)),
            "arousal": torch.from_numpy(np.repeat(a[:, None], t, axis=1)),
            "to_boundary": torch.from_numpy(tb[:, :-1]),
            "style": torch.from_numpy(style),
        }
