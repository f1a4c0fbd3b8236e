"""Pitch transforms behind the valence training: parallel-mode swap, key normalisation, openings."""

from __future__ import annotations

import numpy as np
import pytest

from emsync_models.music.analysis.descriptors import key_of, pitch_class_histogram
from emsync_models.music.notes import Note
from emsync_models.music.v1.corpus import Piece
from emsync_models.music.v1.dataset import BatchSampler, build_corpus, window_features
from emsync_models.music.v1.transforms import swap_mode, to_c_shift, tonic_of
from emsync_models.music.v1.vocab import NOTE_ON_OFFSET, EventTokenizer

G_MAJOR = [(55, 59, 62), (60, 64, 67), (62, 66, 69), (55, 59, 62)]  # I IV V I in G
E_MINOR = [(52, 55, 59), (57, 60, 64), (59, 63, 66), (52, 55, 59)]  # i iv V i in E minor


def chord_notes(chords: list[tuple[int, ...]], beat: float = 0.5, repeats: int = 4) -> list[Note]:
    notes, t = [], 0.0
    for _ in range(repeats):
        for chord in chords:
            notes += [Note(1, p, 80, t, t + beat) for p in chord]
            t += beat
    return notes


def encoded(notes: list[Note]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tokens, times = EventTokenizer().encode_notes(notes)
    durations = np.zeros(len(tokens), dtype=np.float32)
    on = (tokens >= NOTE_ON_OFFSET) & (tokens < NOTE_ON_OFFSET + 5 * 88)
    durations[on] = 0.5
    return tokens, times, durations


@pytest.mark.parametrize(("chords", "sign"), [(G_MAJOR, 1), (E_MINOR, -1)])
def test_swap_mode_moves_music_to_its_parallel_mode_and_keeps_the_tonic(chords: list, sign: int):
    tokens, times, durations = encoded(chord_notes(chords))
    swapped = swap_mode(tokens, durations)
    assert swapped is not None and swapped.shape == tokens.shape
    before = window_features(tokens, times, durations)[0]
    after = window_features(swapped, times, durations)[0]
    assert sign * before > 0.1 and sign * after < -0.1  # the mode flips
    assert tonic_of(tokens, durations) == tonic_of(swapped, durations)
    # the stream is still well formed: decoding gives the same number of notes at the same times
    a, b = EventTokenizer().decode_notes(tokens), EventTokenizer().decode_notes(swapped)
    assert [(n.start, n.end) for n in a] == [(n.start, n.end) for n in b]


def test_swap_mode_refuses_silence_and_the_edge_of_the_keyboard():
    assert swap_mode(np.array([1, 5, 6]), np.zeros(3, dtype=np.float32)) is None
    top = [Note(1, 108, 80, 0.0, 1.0), Note(1, 104, 80, 0.0, 1.0), Note(1, 101, 80, 0.0, 1.0)]  # C major-ish at the top
    tokens, _, durations = encoded(top)
    moved = swap_mode(tokens, durations)
    assert moved is None or moved.max() < NOTE_ON_OFFSET + 10 * 88  # never an id off the vocabulary


def test_to_c_shift_takes_the_shorter_way():
    assert [to_c_shift(t) for t in range(12)] == [0, -1, -2, -3, -4, -5, 6, 5, 4, 3, 2, 1]


def test_key_normalised_windows_are_in_c_and_swapped_windows_carry_their_own_label():
    notes = chord_notes(G_MAJOR, repeats=8)
    corpus = build_corpus([Piece(f"toy/{i}@1", tuple(notes), (), max(n.end for n in notes)) for i in range(12)])
    plain = BatchSampler(corpus, "train", block=48, label_dropout=0.0, seed=1, key_normalise=True)
    swapped = BatchSampler(corpus, "train", block=48, label_dropout=0.0, seed=1, key_normalise=True, mode_swap_prob=1.0)
    tok = EventTokenizer()
    labels = {}
    for name, sampler in (("plain", plain), ("swapped", swapped)):
        batch = sampler.sample(8)
        labels[name] = batch["valence"].numpy()
        for row in batch["x"].numpy():
            window = tok.decode_notes(row[row != 0])
            tonic, mode, _ = key_of(pitch_class_histogram(window))
            assert tonic == 0 and mode == ("major" if name == "plain" else "minor")  # G major -> C / C minor
    # the label is measured on the altered music: the minor twins get the lowest valence there is
    assert labels["swapped"].max() < np.median(labels["plain"])


def test_openings_are_short_windows_labelled_by_the_span_they_open():
    notes = chord_notes(G_MAJOR, repeats=30)
    corpus = build_corpus([Piece(f"toy/{i}@1", tuple(notes), (), 60.0) for i in range(4)])
    sampler = BatchSampler(corpus, "train", block=16, transpose=0, label_dropout=0.0, label_tokens=200, seed=0)
    spans: list[tuple[int, int]] = []
    measure = sampler.labels_for
    sampler.labels_for = lambda piece, s, e, window=None: spans.append((s, e)) or measure(piece, s, e, window)
    batch = sampler.sample(4)
    assert batch["x"].shape == (4, 16) and bool((batch["y"] != -100).all())
    assert [e - s for s, e in spans] == [200] * 4  # labels come from the 200 tokens each opening begins
    for row, (s, _) in enumerate(spans):  # ...and the window is the first 16 of them
        assert batch["x"][row].tolist() == corpus.tokens[s : s + 16].tolist()
