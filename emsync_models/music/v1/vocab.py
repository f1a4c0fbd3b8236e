"""The MIDI event vocabulary: a small MidiTok-style tokenizer with `encode`, `decode` and a printable vocab.

Layout (1017 tokens): PAD, START, BAR, CHORD, 125 time shifts of 8 ms (8 ms .. 1 s, longer gaps are
chained), 8 velocity bins, then note-on and note-off for 5 LPD-5 families x 88 piano pitches.
Compared with EMSYNC's 1011-token vocabulary this adds velocity bins: a VELOCITY token is emitted only
when the bin changes, so it costs few tokens in practice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from emsync_models.music.notes import FAMILIES, PITCH_HIGH, PITCH_LOW, Note, midi_notes, notes_to_midi

if TYPE_CHECKING:  # imported where used: the model's training path (a bare GPU image) never needs it
    import pretty_midi

N_PITCHES = PITCH_HIGH - PITCH_LOW + 1
QUANTUM_S = 0.008
N_TIME_SHIFTS = 125  # 8 ms .. 1000 ms
N_VELOCITY_BINS = 8

PAD, START, BAR, CHORD = 0, 1, 2, 3
TIME_SHIFT_OFFSET = 4
VELOCITY_OFFSET = TIME_SHIFT_OFFSET + N_TIME_SHIFTS
NOTE_ON_OFFSET = VELOCITY_OFFSET + N_VELOCITY_BINS
NOTE_OFF_OFFSET = NOTE_ON_OFFSET + len(FAMILIES) * N_PITCHES
VOCAB_SIZE = NOTE_OFF_OFFSET + len(FAMILIES) * N_PITCHES


def velocity_bin(velocity: int) -> int:
    return min(max(int(velocity), 0), 127) * N_VELOCITY_BINS // 128


def bin_velocity(bin_index: int) -> int:
    width = 128 // N_VELOCITY_BINS
    return bin_index * width + width // 2


def note_on(family: int, pitch: int) -> int:
    return NOTE_ON_OFFSET + family * N_PITCHES + (pitch - PITCH_LOW)


def note_off(family: int, pitch: int) -> int:
    return NOTE_OFF_OFFSET + family * N_PITCHES + (pitch - PITCH_LOW)


def time_shift(steps: int) -> int:
    return TIME_SHIFT_OFFSET + steps - 1


def is_note_on(token: int) -> bool:
    return NOTE_ON_OFFSET <= token < NOTE_OFF_OFFSET


def is_note_off(token: int) -> bool:
    return NOTE_OFF_OFFSET <= token < VOCAB_SIZE


def is_time_shift(token: int) -> bool:
    return TIME_SHIFT_OFFSET <= token < VELOCITY_OFFSET


def shift_seconds(token: int) -> float:
    """Seconds a token advances the clock (0 for everything but time shifts)."""
    if is_time_shift(token):
        return (token - TIME_SHIFT_OFFSET + 1) * QUANTUM_S
    return 0.0


def token_seconds_table() -> np.ndarray:
    """Per-token clock advance in seconds, for vectorised time bookkeeping."""
    table = np.zeros(VOCAB_SIZE, dtype=np.float64)
    table[TIME_SHIFT_OFFSET:VELOCITY_OFFSET] = np.arange(1, N_TIME_SHIFTS + 1) * QUANTUM_S
    return table


def token_name(token: int) -> str:
    if token == PAD:
        return "PAD"
    if token == START:
        return "START"
    if token == BAR:
        return "BAR"
    if token == CHORD:
        return "CHORD"
    if is_time_shift(token):
        return f"TIME_SHIFT_{round(shift_seconds(token) * 1000)}ms"
    if VELOCITY_OFFSET <= token < NOTE_ON_OFFSET:
        return f"VELOCITY_{bin_velocity(token - VELOCITY_OFFSET)}"
    if is_note_on(token) or is_note_off(token):
        kind, base = ("NOTE_ON", NOTE_ON_OFFSET) if is_note_on(token) else ("NOTE_OFF", NOTE_OFF_OFFSET)
        family, pitch = divmod(token - base, N_PITCHES)
        return f"{kind}_{FAMILIES[family]}_{pitch + PITCH_LOW}"
    raise ValueError(f"token {token} is outside the vocabulary of {VOCAB_SIZE}")


# Events at the same quantised time are ordered: markers, releases, then attacks (so re-strikes work).
_PRIORITY_BAR, _PRIORITY_CHORD, _PRIORITY_OFF, _PRIORITY_ON = 0, 1, 2, 3


class EventTokenizer:
    """MIDI <-> token ids. Keeps each note's family, pitch, velocity bin, and onset/offset to +-4 ms."""

    vocab_size = VOCAB_SIZE

    @property
    def vocab(self) -> list[str]:
        return [token_name(t) for t in range(VOCAB_SIZE)]

    def __len__(self) -> int:
        return VOCAB_SIZE

    def encode_notes(
        self,
        notes: Sequence[Note],
        chord_times: Sequence[float] = (),
        bar_times: Sequence[float] = (),
        add_start: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and, for each token, the clock time (s) once that token has been read."""
        events: list[tuple[int, int, int, int]] = []  # (step, priority, order, token-or-velocity)
        for t in bar_times:
            events.append((round(t / QUANTUM_S), _PRIORITY_BAR, 0, BAR))
        for t in chord_times:
            events.append((round(t / QUANTUM_S), _PRIORITY_CHORD, 0, CHORD))
        by_key: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        for n in notes:
            on = round(n.start / QUANTUM_S)
            off = max(round(n.end / QUANTUM_S), on + 1)
            by_key.setdefault((n.family, n.pitch), []).append((on, off, velocity_bin(n.velocity)))
        for (family, pitch), spans in by_key.items():
            spans.sort()
            for i, (on, off, vbin) in enumerate(spans):
                if i + 1 < len(spans):
                    next_on = spans[i + 1][0]
                    if next_on == on:
                        continue  # a duplicate attack on the same key: one note survives
                    off = min(off, next_on)  # one key cannot sound twice: the re-strike ends it
                events.append((off, _PRIORITY_OFF, 0, note_off(family, pitch)))
                events.append((on, _PRIORITY_ON, vbin, note_on(family, pitch)))
        events.sort()
        tokens: list[int] = [START] if add_start else []
        times: list[float] = [0.0] if add_start else []
        step, vbin_now = 0, -1
        for ev_step, priority, vbin, token in events:
            gap = ev_step - step
            while gap > 0:
                shift = min(gap, N_TIME_SHIFTS)
                step += shift
                gap -= shift
                tokens.append(time_shift(shift))
                times.append(step * QUANTUM_S)
            if priority == _PRIORITY_ON and vbin != vbin_now:
                tokens.append(VELOCITY_OFFSET + vbin)
                times.append(step * QUANTUM_S)
                vbin_now = vbin
            tokens.append(token)
            times.append(step * QUANTUM_S)
        return np.asarray(tokens, dtype=np.int64), np.asarray(times, dtype=np.float64)

    def encode(
        self,
        midi: pretty_midi.PrettyMIDI,
        chord_times: Sequence[float] = (),
        bar_times: Sequence[float] = (),
        add_start: bool = True,
    ) -> list[int]:
        tokens, _ = self.encode_notes(midi_notes(midi), chord_times, bar_times, add_start)
        return tokens.tolist()

    def decode_notes(
        self, tokens: Sequence[int], end_time: float | None = None, max_duration_s: float | None = None
    ) -> list[Note]:
        """Notes the token stream describes; notes left sounding end at `end_time` (or the last event).

        `max_duration_s` releases any note held longer (a sampled stream can forget a note-off).
        """
        time, vbin = 0.0, N_VELOCITY_BINS // 2
        active: dict[tuple[int, int], tuple[float, int]] = {}
        notes: list[Note] = []
        for token in tokens:
            token = int(token)
            if is_time_shift(token):
                time += shift_seconds(token)
            elif VELOCITY_OFFSET <= token < NOTE_ON_OFFSET:
                vbin = token - VELOCITY_OFFSET
            elif is_note_on(token):
                key = divmod(token - NOTE_ON_OFFSET, N_PITCHES)
                if key in active:  # re-strike: the sounding note ends here
                    start, vel = active.pop(key)
                    if time > start:
                        notes.append(Note(key[0], key[1] + PITCH_LOW, vel, start, time))
                active[key] = (time, bin_velocity(vbin))
            elif is_note_off(token):
                key = divmod(token - NOTE_OFF_OFFSET, N_PITCHES)
                if key in active:
                    start, vel = active.pop(key)
                    if time > start:
                        notes.append(Note(key[0], key[1] + PITCH_LOW, vel, start, time))
        final = time if end_time is None else end_time
        for (family, pitch_index), (start, vel) in active.items():
            if final > start:
                notes.append(Note(family, pitch_index + PITCH_LOW, vel, start, final))
        if max_duration_s is not None:
            notes = [Note(n.family, n.pitch, n.velocity, n.start, min(n.end, n.start + max_duration_s)) for n in notes]
        notes.sort(key=lambda n: (n.start, n.family, n.pitch))
        return notes

    def decode(
        self, tokens: Sequence[int], end_time: float | None = None, max_duration_s: float | None = None
    ) -> pretty_midi.PrettyMIDI:
        return notes_to_midi(self.decode_notes(tokens, end_time, max_duration_s))

    def marker_times(self, tokens: Sequence[int], marker: int = CHORD) -> list[float]:
        """Clock times at which a marker token (CHORD or BAR) occurs."""
        time, out = 0.0, []
        for token in tokens:
            token = int(token)
            if is_time_shift(token):
                time += shift_seconds(token)
            elif token == marker:
                out.append(round(time, 6))
        return out
