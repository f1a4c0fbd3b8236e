"""The palette on the arranger's own parts: the bass, the comp, the final chord and a restated theme
are written on instruments the arranger picks; where one is outside the user's palette it moves to the
nearest instrument inside it (`controls.nearest_program`): a bass line to a bass-capable program, a
held final chord to a sustaining one. The model's own parts are already inside (masked at sampling).
"""

from __future__ import annotations

import symusic

from emsync_models.music.controls import Palette, nearest_program
from emsync_models.music.gm_instruments import BASS_PROGRAMS, SUSTAINING


def fit_palette(score: symusic.Score, palette: Palette) -> int:
    """Move every track outside `palette` onto the nearest program inside it; drop drum tracks when the
    palette has no drums. Returns how many tracks changed."""
    changed = 0
    if not palette.drums:
        kept = [t for t in score.tracks if not t.is_drum]
        changed += len(score.tracks) - len(kept)
        score.tracks = kept  # type: ignore[assignment]
    if palette.programs is None:
        return changed
    playing = {int(t.program) for t in score.tracks if not t.is_drum and int(t.program) in palette.programs}
    for track in score.tracks:
        if track.is_drum or int(track.program) in palette.programs:
            continue
        name = str(track.name)
        prefer = BASS_PROGRAMS if name == "bass" or int(track.program) in BASS_PROGRAMS else \
            SUSTAINING if name == "ending" else ()
        track.program = nearest_program(int(track.program), palette.programs, prefer, playing)
        changed += 1
    return changed
