"""The arranger's own parts move into the user's palette."""

from __future__ import annotations

import symusic

from emsync_models.music.controls import parse_palette
from emsync_models.music.v2.palette import fit_palette


def _score(*tracks: tuple[str, int, bool]) -> symusic.Score:
    score = symusic.Score(480)
    for name, program, drum in tracks:
        track = symusic.Track(name, program, drum)
        track.notes.append(symusic.Note(0, 480, 36 if drum else 60, 80))
        score.tracks.append(track)
    return score


def test_bass_ending_and_comp_move_to_the_nearest_in_palette_program() -> None:
    score = _score(("", 0, False), ("bass", 33, False), ("ending", 48, False), ("comp", 0, False), ("", 0, True))
    changed = fit_palette(score, parse_palette("piano,cello"))
    programs = {str(t.name): int(t.program) for t in score.tracks}
    assert programs == {"": 0, "bass": 42, "ending": 42, "comp": 0}  # cello bowls the bass and holds the end
    assert not any(t.is_drum for t in score.tracks) and changed == 3


def test_a_free_palette_changes_nothing() -> None:
    score = _score(("bass", 33, False), ("", 0, True))
    assert fit_palette(score, parse_palette(None)) == 0
    assert [(int(t.program), bool(t.is_drum)) for t in score.tracks] == [(33, False), (0, True)]


def test_no_drums_alone_keeps_every_program() -> None:
    score = _score(("bass", 33, False), ("", 0, True))
    fit_palette(score, parse_palette("no drums"))
    assert [(int(t.program), bool(t.is_drum)) for t in score.tracks] == [(33, False)]
