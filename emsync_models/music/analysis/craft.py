"""What a film composer checks in a written score, measured on the MIDI alone: are the hits heard as
hits, does the music keep phrases, does each part sit on an instrument that can play it, does the
piece start with the picture.

Every measure reads the MIDI file as written (its own tempo map, meter, programs), never a generator's
markers, so v1, v2 and the corpus are measured alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pretty_midi

from emsync_models.music.gm_instruments import BASS_PROGRAMS, SUSTAINING, in_range

ONSET_TOLERANCE_S = 0.03  # a note "on" a hit or a downbeat starts within this of it
ACCENT_DRUMS = frozenset({49, 52, 55, 57})  # crash 1, chinese, splash, crash 2: the cymbals that mark a hit
PHRASE_BARS = 4
LOW_VOICE_HOP_S = 0.05


def _onsets(midi: pretty_midi.PrettyMIDI, duration_s: float) -> list[tuple[float, int, bool, int]]:
    """(start s, velocity, is_drum, pitch) of every note starting before `duration_s`."""
    return [(float(n.start), int(n.velocity), bool(i.is_drum), int(n.pitch))
            for i in midi.instruments for n in i.notes if n.start < duration_s]


def hit_accents(midi: pretty_midi.PrettyMIDI, cuts_s: Sequence[float], duration_s: float) -> dict:
    """Per cut: how much louder (MIDI velocity) the notes struck on it are than those struck on the
    piece's other downbeats (median of each), and whether an accent cymbal sounds on it.

    `velocity_gain` holds one value per cut that has notes on it; `accent_instrument` one bool per cut."""
    onsets = _onsets(midi, duration_s)
    starts = np.array([o[0] for o in onsets]) if onsets else np.zeros(0)
    vel = np.array([o[1] for o in onsets]) if onsets else np.zeros(0)
    downbeats = [float(d) for d in midi.get_downbeats() if d < duration_s]
    others = [d for d in downbeats if all(abs(d - c) > 0.1 for c in cuts_s)]
    on_others = np.concatenate([vel[np.abs(starts - d) <= ONSET_TOLERANCE_S] for d in others]) if others else vel[:0]
    reference = float(np.median(on_others)) if on_others.size else float("nan")
    gains, accents = [], []
    for cut in cuts_s:
        here = np.abs(starts - cut) <= ONSET_TOLERANCE_S
        if here.any() and np.isfinite(reference):
            gains.append(float(np.median(vel[here])) - reference)
        accents.append(any(o[2] and o[3] in ACCENT_DRUMS and abs(o[0] - cut) <= ONSET_TOLERANCE_S for o in onsets))
    return {"velocity_gain": gains, "accent_instrument": accents}


def bar_meters(midi: pretty_midi.PrettyMIDI, duration_s: float) -> list[tuple[int, int]]:
    """(numerator, denominator) of each bar whose downbeat sounds before `duration_s`."""
    signatures = sorted(midi.time_signature_changes, key=lambda ts: ts.time)
    out = []
    for d in midi.get_downbeats():
        if d >= duration_s - 1e-6:
            break
        ts = next((s for s in reversed(signatures) if s.time <= d + 1e-6), None)
        out.append((ts.numerator, ts.denominator) if ts else (4, 4))
    return out


def phrase_share(meters: Sequence[tuple[int, int]], phrase: int = PHRASE_BARS) -> float:
    """Share of bars inside whole `phrase`-bar groups of 4/4: each run of consecutive 4/4 bars counts
    its bars in groups of `phrase` from the run's first bar; short bars and the remainders do not."""
    if not meters:
        return float("nan")
    inside, run = 0, 0
    for m in [*meters, (0, 0)]:
        if m == (4, 4):
            run += 1
        else:
            inside += run - run % phrase
            run = 0
    return inside / len(meters)


def tempo_range(midi: pretty_midi.PrettyMIDI) -> tuple[float, float]:
    """(slowest, fastest) tempo of the MIDI's tempo map, in BPM."""
    _, tempos = midi.get_tempo_changes()
    return (float(np.min(tempos)), float(np.max(tempos))) if len(tempos) else (120.0, 120.0)


def notes_out_of_range(midi: pretty_midi.PrettyMIDI) -> int:
    """Pitched notes outside their GM program's playable range (`gm_instruments`)."""
    return sum(not in_range(i.program, n.pitch) for i in midi.instruments if not i.is_drum for n in i.notes)


def bass_program(midi: pretty_midi.PrettyMIDI, duration_s: float) -> int | None:
    """The program of the bass part: the one that most often plays the lowest sounding pitched note
    (sampled every 50 ms); None where no pitched note sounds."""
    counts: dict[int, int] = {}
    notes = [(n.start, n.end, n.pitch, i.program) for i in midi.instruments if not i.is_drum for n in i.notes]
    if not notes:
        return None
    arr = np.array([(a, b, p) for a, b, p, _ in notes])
    programs = np.array([q for *_, q in notes])
    for t in np.arange(0.0, duration_s, LOW_VOICE_HOP_S):
        sounding = (arr[:, 0] <= t) & (arr[:, 1] > t)
        if sounding.any():
            k = np.flatnonzero(sounding)[np.argmin(arr[sounding, 2])]
            counts[int(programs[k])] = counts.get(int(programs[k]), 0) + 1
    return max(counts, key=lambda p: counts[p]) if counts else None


def final_chord_programs(midi: pretty_midi.PrettyMIDI, duration_s: float, before_end_s: float = 0.5) -> list[int]:
    """Programs of the pitched notes sounding `before_end_s` before the end (the ringing final chord)."""
    t = max(duration_s - before_end_s, 0.0)
    return [i.program for i in midi.instruments if not i.is_drum for n in i.notes if n.start <= t < n.end]


def final_chord_fits(programs: Sequence[int]) -> bool:
    """A final chord rings on a sustaining instrument (a bass may hold its root), nothing dying away."""
    return bool(programs) and any(p in SUSTAINING for p in programs) \
        and all(p in SUSTAINING or p in BASS_PROGRAMS for p in programs)


def opening_silence_s(midi: pretty_midi.PrettyMIDI, duration_s: float) -> float:
    """Seconds before the first note (any note, drums too) starts; the whole piece if none does."""
    starts = [n.start for i in midi.instruments for n in i.notes]
    return float(min(min(starts), duration_s)) if starts else float(duration_s)


def craft_measures(midi: pretty_midi.PrettyMIDI, cuts_s: Sequence[float], duration_s: float) -> dict:
    accents = hit_accents(midi, cuts_s, duration_s)
    slow, fast = tempo_range(midi)
    bass = bass_program(midi, duration_s)
    final = final_chord_programs(midi, duration_s)
    return {
        "hit_velocity_gain": accents["velocity_gain"],
        "hit_accent_instrument": accents["accent_instrument"],
        "phrase_share": phrase_share(bar_meters(midi, duration_s)),
        "tempo_min": slow,
        "tempo_max": fast,
        "notes_out_of_range": notes_out_of_range(midi),
        "bass_program": bass,
        "bass_fits": bass is not None and bass in BASS_PROGRAMS,
        "final_chord_fits": final_chord_fits(final),
        "opening_silence_s": opening_silence_s(midi, duration_s),
    }
