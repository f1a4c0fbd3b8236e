"""What a section's key asks of its harmony: the chords the model may choose, and the tone a resting part
holds.

Sections are written in C (moved to their key afterwards), so both are fixed per mode. Left free, the
model borrowed secondary dominants (II, VI and III major in a major key, the parallel major's chords in a
minor one) and dwelt on ii, iii and vi; the parts resting under it held whichever chord tone lay nearest
their register, often the third for half a minute. Heard over a 30 s stretch, by a listener and by a key
finder, that was the relative or the dominant key where the plan had not turned. A composer writing in
a key keeps its chords diatonic (the minor borrowing only its leading tone, for V and vii-dim) and lets
an inner part sit on the tonic (or the dominant) wherever the chord has it: an inner pedal.
"""

from __future__ import annotations

import torch

from emsync_models.music.v2.remi import BeatTokenizer
from emsync_models.music.v2.sample import chord_pitch_classes

# Pitch classes (in C) a chord of each mode keeps to: the major scale; natural minor with the harmonic
# minor's leading tone.
SCALES = {False: frozenset({0, 2, 4, 5, 7, 9, 11}), True: frozenset({0, 2, 3, 5, 7, 8, 10, 11})}
# The tones (in C) a resting part holds where the chord has them: the tonic, else the fifth. Held on the
# tonic alone, under the chords without it (iii, V, vii) the part went back to its nearest tone, often the
# third, and more 30 s windows read as the relative key.
PEDALS = (0, 7)


def key_chords(tok: BeatTokenizer, minor: bool) -> torch.Tensor:
    """(vocab,) bool: the chord tokens whose pitch classes all lie in the mode's scale (in C)."""
    pitch_classes = chord_pitch_classes(tok)  # no row set for other tokens or for no chord
    outside = torch.ones(12, dtype=torch.bool)
    outside[sorted(SCALES[minor])] = False
    return pitch_classes.any(dim=1) & ~pitch_classes[:, outside].any(dim=1)
