"""Corpus building, proxy labels, batch sampling, transposition and the LPD-5 loader (tiny fixture)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csc_matrix

from emsync_models.music.analysis.descriptors import mode_score, pitch_class_histogram
from emsync_models.music.notes import Note
from emsync_models.music.v1.corpus import Piece, retime
from emsync_models.music.v1.dataset import (
    BatchSampler,
    TokenCorpus,
    build_corpus,
    transpose_tokens,
    unigram_nll,
    window_features,
)
from emsync_models.music.v1.lpd5 import prepare_lpd5_corpus, read_labels, read_pianoroll_npz
from emsync_models.music.v1.vocab import CHORD, N_PITCHES, NOTE_ON_OFFSET, note_on

MAJOR = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67)]  # I IV V I in C
MINOR = [(57, 60, 64), (62, 65, 69), (64, 68, 71), (57, 60, 64)]  # i iv V i in A minor


def block_piece(name: str, chords: list[tuple[int, ...]], beat: float, repeats: int = 6) -> Piece:
    notes, t = [], 0.0
    for _ in range(repeats):
        for chord in chords:
            notes += [Note(1, p, 80, t, t + beat) for p in chord]
            notes.append(Note(3, chord[0] - 24, 80, t, t + beat))
            t += beat
    return Piece(name, tuple(notes), tuple(np.arange(0, t, 4 * beat)), t)


@pytest.fixture(scope="module")
def corpus() -> TokenCorpus:
    pieces = []
    for i in range(24):
        chords = MAJOR if i % 2 == 0 else MINOR
        pieces.append(block_piece(f"toy/{i}@1", chords, beat=0.8 + 0.1 * (i % 4)))
    return build_corpus(pieces)


def test_mode_score_separates_major_from_minor():
    major = [Note(1, p, 80, 0, 1) for c in MAJOR for p in c]
    minor = [Note(1, p, 80, 0, 1) for c in MINOR for p in c]
    assert mode_score(pitch_class_histogram(major)) > 0.1 > -0.1 > mode_score(pitch_class_histogram(minor))


def test_corpus_has_chord_markers_boundaries_and_a_val_split(corpus: TokenCorpus, tmp_path: Path):
    assert (corpus.tokens == CHORD).sum() > 24 * 10
    assert corpus.starts[-1] == corpus.n_tokens == len(corpus.times)
    path = tmp_path / "c.npz"
    corpus.save(path)
    again = TokenCorpus.load(path)
    assert again.names == corpus.names and np.array_equal(again.tokens, corpus.tokens)
    assert 0 < unigram_nll(corpus, split="train", train_split="train") < np.log(1017)


def test_window_proxy_labels_follow_mode_and_density(corpus: TokenCorpus):
    feats = {}
    for i in (0, 1):
        s, e = corpus.starts[i], corpus.starts[i + 1]
        feats[i] = window_features(corpus.tokens[s:e], corpus.times[s:e], corpus.durations[s:e])
    assert feats[0][0] > 0 > feats[1][0]  # major piece vs minor piece
    fast = retime(block_piece("x@1", MAJOR, 0.8), 2.0)
    slow = block_piece("y@1", MAJOR, 0.8)
    c2 = build_corpus([fast, slow])
    dens = [window_features(c2.tokens[c2.starts[i]:c2.starts[i + 1]], c2.times[c2.starts[i]:c2.starts[i + 1]],
                            c2.durations[c2.starts[i]:c2.starts[i + 1]])[1] for i in (0, 1)]
    assert dens[0] > dens[1] + 0.2  # twice the tempo: log10 density up by ~0.3


def test_batches_have_aligned_targets_offsets_and_labels(corpus: TokenCorpus):
    sampler = BatchSampler(corpus, "train", block=64, transpose=0, label_dropout=0.0, seed=0)
    b = sampler.sample(4)
    assert b["x"].shape == b["y"].shape == b["offsets"].shape == (4, 64)
    valid = b["y"][0] != -100
    assert (b["x"][0, 1:][valid[:-1]] == b["y"][0, :-1][valid[:-1]]).all()  # y is x shifted by one
    assert float(b["offsets"].min()) >= 0.0 and float(b["offsets"].max()) <= 1.0
    # the step before a CHORD target sees its boundary "now"
    rows, cols = np.nonzero((b["y"] == CHORD).numpy())
    assert len(rows) and np.allclose(b["offsets"].numpy()[rows, cols], 1.0)
    assert (b["valence"].abs() <= 1).all() and (b["arousal"].abs() <= 1).all()


def test_transposition_moves_pitched_notes_only():
    tokens = np.array([1, note_on(1, 60), note_on(0, 36), note_on(4, 100)])
    up = transpose_tokens(tokens, 3)
    assert up is not None
    assert up[1] == note_on(1, 63) and up[2] == note_on(0, 36) and up[3] == note_on(4, 103)
    assert transpose_tokens(np.array([NOTE_ON_OFFSET + N_PITCHES + 87]), 1) is None  # off the top key


def _write_lpd(path: Path, bpm: float = 100.0) -> None:
    """A 2-track pypianoroll .npz: piano C-E-G then F-A-C (2 beats each), bass roots; 24 steps/beat."""
    res, steps = 24, 96
    piano = np.zeros((steps, 128), dtype=np.uint8)
    bass = np.zeros((steps, 128), dtype=np.uint8)
    piano[:48, [60, 64, 67]] = 90
    piano[48:, [65, 69, 72]] = 90
    bass[:48, 36] = 100
    bass[48:, 41] = 100
    arrays = {"tempo": np.full(steps, bpm), "downbeat": np.arange(steps) % 96 == 0}
    for i, roll in enumerate((piano, bass)):
        m = csc_matrix(roll)
        arrays.update({f"pianoroll_{i}_csc_data": m.data, f"pianoroll_{i}_csc_indices": m.indices,
                       f"pianoroll_{i}_csc_indptr": m.indptr, f"pianoroll_{i}_csc_shape": np.array(m.shape)})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    info = {"beat_resolution": res, "name": path.stem, "0": {"program": 0, "is_drum": False, "name": "Piano"},
            "1": {"program": 33, "is_drum": False, "name": "Bass"}}
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("info.json", json.dumps(info))


def test_lpd5_reader_realises_tempo_and_programs(tmp_path: Path):
    path = tmp_path / "A" / "TRAAAAA128F1" / "abc123.npz"
    _write_lpd(path, bpm=100.0)
    piece = read_pianoroll_npz(path)
    assert len(piece.notes) == 8
    assert {n.family for n in piece.notes} == {1, 3}
    assert piece.duration_s == pytest.approx(4 * 60 / 100)  # 4 beats at 100 bpm
    assert sorted({round(n.start, 3) for n in piece.notes}) == [0.0, 1.2]


def test_lpd5_corpus_with_labels_one_command_path(tmp_path: Path):
    root = tmp_path / "lpd_5_cleansed"
    for i, track in enumerate(("TRA", "TRB", "TRC", "TRD")):
        _write_lpd(root / track / f"md5{i}.npz", bpm=80 + 20 * i)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("track_id,valence,energy\nTRA,0.9,0.1\nTRB,0.1,0.8\nTRC,,\n")
    labels = read_labels(csv_path)
    assert labels["TRA"] == pytest.approx((0.8, -0.8)) and "TRC" not in labels
    corpus = prepare_lpd5_corpus(root, csv_path, tmp_path / "cache.npz")
    assert len(corpus.names) == 4 and bool(corpus.real_labels)
    by_name = dict(zip(corpus.names, corpus.valence, strict=True))
    assert by_name["md50"] == pytest.approx(0.8) and np.isnan(by_name["md53"])
    sampler = BatchSampler(corpus, "train", block=16, label_dropout=0.0) if corpus.piece_ids("train").size else None
    if sampler is not None:
        b = sampler.sample(8)  # unlabeled tracks keep NaN: the model's null vector, never a proxy
        assert b["x"].shape == (8, 16)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,score\nx,1\n")
    with pytest.raises(ValueError, match="id column"):
        read_labels(bad)


def test_start_prob_opens_windows_at_the_piece_start(corpus: TokenCorpus):
    sampler = BatchSampler(corpus, "train", block=32, label_dropout=0.0, start_prob=1.0, seed=3)
    b = sampler.sample(6)
    assert (b["x"][:, 0] == 1).all()  # START
