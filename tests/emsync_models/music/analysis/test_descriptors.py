"""The datasheet's descriptors on known music, read from the one definition of each measure."""

from __future__ import annotations

import numpy as np
import pytest

from emsync_models.music.analysis.descriptors import music_descriptors
from emsync_models.music.analysis.measures import pulse_share, semitone_clash_share, silence_share
from emsync_models.music.notes import Note


def test_descriptors_on_known_music() -> None:
    c_major = [Note(1, p, 80, 0.0, 2.0) for p in (60, 64, 67)]
    d = music_descriptors(c_major, duration_s=4.0)
    assert d.silence_share == pytest.approx(0.5, abs=0.03)
    assert d.semitone_clash_share == 0.0 and d.polyphony == pytest.approx(3.0)
    assert d.notes_per_s == pytest.approx(0.75)
    clash = music_descriptors([Note(1, 60, 80, 0.0, 1.0), Note(1, 61, 80, 0.0, 1.0)])
    assert clash.semitone_clash_share == 1.0
    steady = [Note(0, 36, 80, i * 0.5, i * 0.5 + 0.1) for i in range(16)]
    assert pulse_share(steady) == 1.0
    ragged = [Note(0, 36, 80, t, t + 0.05) for t in np.cumsum(np.random.default_rng(0).uniform(0.1, 1.0, 40))]
    assert pulse_share(ragged) < 0.5


def test_the_descriptors_are_the_measures_themselves() -> None:
    drums = [Note(0, 36, 90, t, t + 0.1) for t in np.arange(0.0, 4.0, 0.5)]
    piano = [Note(1, 60, 80, 0.0, 1.0), Note(1, 61, 80, 0.5, 1.0), Note(1, 64, 80, 2.0, 3.0), Note(1, 67, 80, 2.0, 3.0)]
    notes = drums + piano
    d = music_descriptors(notes, duration_s=4.0)
    assert d.semitone_clash_share == semitone_clash_share(notes, 4.0) == pytest.approx(1 / 3)  # of 2-pc time
    assert d.silence_share == silence_share(notes, 4.0, drums_sound=True)
    assert silence_share(notes, 4.0, drums_sound=True) < silence_share(notes, 4.0) == pytest.approx(0.5)
    assert d.pulse_share == pulse_share(notes)
