"""Pitch transforms of token windows: transposition, key normalisation, parallel-mode swap.

Parallel-mode swap: the same music moved from major to minor or back. The valence proxy is the mode
score, and in the corpus mode is confounded with composer and style, so a small model learns to guess
the mode from the first notes and ignores the label. Showing a window and its parallel-mode twin, each
with the label measured on itself, makes the label the only thing that tells the two apart. Major ->
harmonic minor lowers scale degrees 3 and 6; minor -> major raises 3, 6 and a natural-minor 7. The key
comes from the Krumhansl-Schmuckler estimate of the window.

Key normalisation moves a window's tonic to C, so that choosing major or minor is choosing E/A/B or
Eb/Ab/Bb: a label can steer that directly, where in any key it must first be combined with a tonic
the model has to infer from context, which a small model does not learn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from emsync_models.music.analysis.descriptors import key_of
from emsync_models.music.notes import PITCH_LOW
from emsync_models.music.v1.vocab import N_PITCHES, NOTE_OFF_OFFSET, NOTE_ON_OFFSET

N_PITCHED_FAMILIES = 4  # families 1..4; family 0 (drums) has no pitch classes to move

# semitone shift per scale degree (0 = tonic)
_TO_MINOR = np.zeros(12, dtype=np.int64)
_TO_MINOR[[4, 9]] = -1
_TO_MAJOR = np.zeros(12, dtype=np.int64)
_TO_MAJOR[[3, 8, 10]] = 1


def pitched_note_mask(tokens: np.ndarray, base: int) -> np.ndarray:
    rel = tokens - base
    return (rel >= N_PITCHES) & (rel < (1 + N_PITCHED_FAMILIES) * N_PITCHES)


def duration_weighted_profile(tokens: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Pitch-class profile of a token window, each note-on weighted by its note's length."""
    on = pitched_note_mask(tokens, NOTE_ON_OFFSET)
    pcs = ((tokens[on] - NOTE_ON_OFFSET) % N_PITCHES + PITCH_LOW) % 12
    return np.bincount(pcs, weights=durations[on], minlength=12)


def window_key(tokens: np.ndarray, durations: np.ndarray) -> tuple[int, str] | None:
    """(tonic pitch class, 'major'|'minor') of a token window, None without pitched notes."""
    profile = duration_weighted_profile(tokens.astype(np.int64), durations)
    if profile.sum() <= 0:
        return None
    tonic, mode, _ = key_of(profile)
    return tonic, mode


def tonic_of(tokens: np.ndarray, durations: np.ndarray) -> int | None:
    """Estimated tonic pitch class of a token window (None without pitched notes)."""
    key = window_key(tokens, durations)
    return None if key is None else key[0]


def to_c_shift(tonic: int) -> int:
    """Semitones (-5..+6) that move `tonic` to C by the shorter way."""
    shift = -tonic % 12
    return shift - 12 if shift > 6 else shift


def _remap_pitches(tokens: np.ndarray, new_index: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
    """Every pitched note-on/off moved from keyboard index i to new_index(i) (the same map for both,
    so a note's on and off stay a pair); None when a note would leave the 88 keys."""
    tokens = tokens.astype(np.int64)
    out = tokens.copy()
    for base in (NOTE_ON_OFFSET, NOTE_OFF_OFFSET):
        mask = pitched_note_mask(tokens, base)  # drums stay put
        index = (tokens[mask] - base) % N_PITCHES
        moved = new_index(index)
        if moved.size and (moved.min() < 0 or moved.max() >= N_PITCHES):
            return None
        out[mask] = tokens[mask] + (moved - index)
    return out


def swap_mode(tokens: np.ndarray, durations: np.ndarray) -> np.ndarray | None:
    """The window in its parallel mode, or None when it has no pitched notes or a note would leave the 88 keys."""
    key = window_key(tokens, durations)
    if key is None:
        return None
    tonic, mode = key
    by_degree = _TO_MINOR if mode == "major" else _TO_MAJOR
    by_pitch_class = np.roll(by_degree, tonic)  # index = absolute pitch class
    return _remap_pitches(tokens, lambda index: index + by_pitch_class[(index + PITCH_LOW) % 12])


def transpose_tokens(tokens: np.ndarray, semitones: int) -> np.ndarray | None:
    """Tokens with every pitched note moved by `semitones`, or None if a note would leave the 88 keys."""
    if semitones == 0:
        return tokens
    return _remap_pitches(tokens, lambda index: index + semitones)


def transpose_folding(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """Tokens with every pitched note moved by `semitones`; a note that would leave the 88 keys moves
    by the same pitch class an octave the other way, so the key changes and nothing is dropped."""

    def fold(index: np.ndarray) -> np.ndarray:
        moved = index + semitones
        return np.where(moved >= N_PITCHES, moved - 12, np.where(moved < 0, moved + 12, moved))

    out = _remap_pitches(tokens, fold)
    assert out is not None  # folding never leaves the keyboard (|semitones| <= 12 keeps one octave of room)
    return out
