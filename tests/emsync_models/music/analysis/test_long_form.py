"""Long-form measures on MIDI built by hand: a repeated phrase, a modulation, an arc of loudness."""

import pretty_midi

from emsync_models.music.analysis.long_form import measure_long_piece

PHRASES = ([60, 64, 67, 72], [62, 65, 69, 74], [64, 67, 71, 76], [65, 69, 72, 77],
           [67, 71, 74, 79], [57, 60, 64, 69], [59, 62, 65, 71], [60, 63, 67, 70])


def piece(order: list[int], shift_from: int | None = None, bar_s: float = 2.0) -> pretty_midi.PrettyMIDI:
    """One bar per entry of `order` (a phrase index), melody on the beats over a held bass note; from
    bar `shift_from` on, everything a fifth higher."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    lead, bass = pretty_midi.Instrument(73), pretty_midi.Instrument(32)
    for b, k in enumerate(order):
        up = 7 if shift_from is not None and b >= shift_from else 0
        t = b * bar_s
        for i, p in enumerate(PHRASES[k]):
            lead.notes.append(pretty_midi.Note(70 + b % 3, p + up, t + i * bar_s / 4, t + (i + 1) * bar_s / 4))
        bass.notes.append(pretty_midi.Note(60, 36 + PHRASES[k][0] % 12 + up, t, t + bar_s))
    midi.instruments.extend([lead, bass])
    return midi


def test_a_repeated_phrase_is_found_and_a_shuffle_is_not():
    verse = [0, 1, 2, 3]
    repeated = measure_long_piece(piece(verse * 12), 96.0)
    assert repeated["restated_share"] > 0.8
    assert repeated["restated_share_shuffled"] < repeated["restated_share"]
    assert repeated["structureness"]["middle"] > 0.5
    through = measure_long_piece(piece([b % 8 for b in range(0, 48 * 3, 3)]), 96.0)
    assert through["structureness"]["long"] <= repeated["structureness"]["long"]


def test_a_restatement_in_another_key_still_counts():
    moved = measure_long_piece(piece([0, 1, 2, 3] * 12, shift_from=24), 96.0)
    assert moved["restated_share"] > 0.8
    assert moved["key_changes_per_min"] > 0 and moved["distinct_keys"] >= 2


def test_density_and_velocity_are_read_per_minute_against_arousal():
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(0)
    arousal = [-0.6, 0.5, -0.2, 0.8]
    for m, a in enumerate(arousal):
        step = 0.5 if a < 0 else 0.25  # busier and louder where arousal is high
        t = 60.0 * m
        while t < 60.0 * (m + 1):
            inst.notes.append(pretty_midi.Note(int(70 + 30 * a), 60 + int(t) % 12, t, t + step))
            t += step
    midi.instruments.append(inst)
    trajectory = tuple((60.0 * m, 0.0, a) for m, a in enumerate(arousal))
    out = measure_long_piece(midi, 240.0, trajectory)
    assert out["rho_arousal_velocity"] == 1.0
    assert out["rho_arousal_density"] > 0.6


def test_changes_are_credited_to_a_boundary_only_near_one():
    from emsync_models.music.analysis.long_form import changes_at

    keys = ["C", "C", "G", "G", "G", "D"]  # changes at 60 s and 150 s (30 s windows)
    assert changes_at(keys, 30.0, [62.0]) == 0.5
    assert changes_at(keys, 30.0, [45.0, 140.0]) == 1.0
    assert changes_at(["C"] * 4, 30.0, [30.0]) is None


def test_windows_are_read_against_the_key_planned_for_their_section():
    from emsync_models.music.analysis.long_form import in_planned_key

    heard = [(0.0, (0, "major")), (30.0, (0, "major")), (60.0, (9, "minor")), (90.0, (7, "major"))]
    # C major to 75 s, then G major: the third window (middle 75 s) belongs to G's section
    assert in_planned_key(heard, 30.0, [(0.0, (0, "major")), (75.0, (7, "major"))]) == 0.75
    assert in_planned_key(heard, 30.0, [(0.0, (0, "major"))]) == 0.5
    assert in_planned_key([], 30.0, [(0.0, (0, "major"))]) is None
    moved = measure_long_piece(piece([0, 1, 2, 3] * 12, shift_from=24), 96.0,
                               planned_keys=[(0.0, (0, "major")), (48.0, (7, "major"))])
    assert moved["windows_in_planned_key"] == 1.0
    unplanned = measure_long_piece(piece([0, 1, 2, 3] * 12, shift_from=24), 96.0,
                                   planned_keys=[(0.0, (0, "major"))])
    assert unplanned["windows_in_planned_key"] < 1.0
