"""General MIDI instruments as an arranger knows them: each program's playable range, which ones sustain
a held chord, which ones carry a bass line.

Ranges are sounding MIDI pitches (GM plays the written note number as heard), taken from the real
instrument's usual compass, a little generous at the edges; synths, pads and effects get a wide middle
range. A part outside its instrument's range sounds wrong in a SoundFont (a distortion guitar below E2,
a pick bass at C6): the writer moves such notes by octaves into range (`fit_to_range`), which keeps
every pitch class and so the harmony.
"""

from __future__ import annotations

from collections.abc import Iterable

# (lowest, highest) sounding MIDI pitch per GM program 0-127
_RANGES: dict[tuple[int, int], tuple[int, int]] = {
    (0, 5): (21, 108),  # pianos, electric pianos
    (6, 7): (29, 89),  # harpsichord, clavinet
    (8, 8): (60, 108),  # celesta
    (9, 9): (79, 108),  # glockenspiel
    (10, 10): (60, 96),  # music box
    (11, 11): (53, 89),  # vibraphone
    (12, 12): (45, 96),  # marimba
    (13, 13): (65, 108),  # xylophone
    (14, 14): (60, 77),  # tubular bells
    (15, 15): (48, 96),  # dulcimer
    (16, 18): (24, 96),  # drawbar, percussive, rock organ
    (19, 19): (21, 108),  # church organ
    (20, 20): (36, 96),  # reed organ
    (21, 21): (41, 89),  # accordion
    (22, 22): (60, 96),  # harmonica
    (23, 23): (41, 89),  # tango accordion
    (24, 24): (40, 83),  # nylon guitar
    (25, 30): (40, 88),  # steel, jazz, clean, muted, overdriven, distortion guitar
    (31, 31): (52, 88),  # guitar harmonics
    (32, 37): (28, 67),  # acoustic, finger, pick, fretless, slap basses
    (38, 39): (24, 72),  # synth basses
    (40, 40): (55, 103),  # violin
    (41, 41): (48, 91),  # viola
    (42, 42): (36, 76),  # cello
    (43, 43): (28, 60),  # contrabass
    (44, 44): (28, 103),  # tremolo strings
    (45, 45): (28, 96),  # pizzicato strings
    (46, 46): (23, 103),  # harp
    (47, 47): (40, 57),  # timpani
    (48, 51): (28, 103),  # string ensembles, synth strings
    (52, 53): (40, 84),  # choir aahs, voice oohs
    (54, 55): (36, 96),  # synth voice, orchestra hit
    (56, 56): (54, 86),  # trumpet
    (57, 57): (40, 72),  # trombone
    (58, 58): (26, 58),  # tuba
    (59, 59): (54, 82),  # muted trumpet
    (60, 60): (34, 77),  # french horn
    (61, 61): (34, 86),  # brass section
    (62, 63): (24, 96),  # synth brass
    (64, 64): (56, 88),  # soprano sax
    (65, 65): (49, 81),  # alto sax
    (66, 66): (44, 76),  # tenor sax
    (67, 67): (36, 69),  # baritone sax
    (68, 68): (58, 91),  # oboe
    (69, 69): (52, 81),  # english horn
    (70, 70): (34, 75),  # bassoon
    (71, 71): (50, 94),  # clarinet
    (72, 72): (74, 108),  # piccolo
    (73, 75): (60, 96),  # flute, recorder, pan flute
    (76, 76): (60, 84),  # blown bottle
    (77, 77): (55, 84),  # shakuhachi
    (78, 78): (60, 96),  # whistle
    (79, 79): (60, 84),  # ocarina
    (80, 103): (36, 96),  # synth leads, pads, effects
    (104, 105): (48, 84),  # sitar, banjo
    (106, 106): (50, 79),  # shamisen
    (107, 107): (55, 90),  # koto
    (108, 108): (60, 84),  # kalimba
    (109, 109): (55, 77),  # bagpipe
    (110, 110): (55, 96),  # fiddle
    (111, 111): (60, 84),  # shanai
    (112, 112): (72, 96),  # tinkle bell
    (113, 113): (60, 84),  # agogo
    (114, 114): (52, 76),  # steel drums
    (115, 115): (60, 84),  # woodblock
    (116, 116): (36, 60),  # taiko
    (117, 118): (36, 72),  # melodic tom, synth drum
    (119, 127): (21, 108),  # reverse cymbal, sound effects: no compass
}
GM_RANGES: tuple[tuple[int, int], ...] = tuple(
    next(r for (a, b), r in _RANGES.items() if a <= p <= b) for p in range(128)
)

# Programs that hold a chord at an even level for seconds: organs, bowed strings, choirs, brass, reeds,
# pipes, synth leads and pads. Pianos, mallets, guitars, plucked basses, harp, pizzicato and
# percussion die away, so a final chord left on them fades before the picture ends.
SUSTAINING: frozenset[int] = frozenset(
    [*range(16, 24), 40, 41, 42, 43, 44, *range(48, 55), *range(56, 72), *range(72, 80), *range(80, 96), 109, 110, 111]
)
# Programs that carry a bass line: the bass family, cello, contrabass, tuba, trombone, bassoon, baritone sax.
BASS_PROGRAMS: frozenset[int] = frozenset([*range(32, 40), 42, 43, 57, 58, 67, 70])


def gm_range(program: int) -> tuple[int, int]:
    return GM_RANGES[int(program) % 128]


def in_range(program: int, pitch: int) -> bool:
    lo, hi = gm_range(program)
    return lo <= int(pitch) <= hi


def into_range(program: int, pitch: int) -> int:
    """`pitch` moved by whole octaves into the program's range (every range spans at least an octave)."""
    lo, hi = gm_range(program)
    p = int(pitch)
    while p < lo:
        p += 12
    while p > hi:
        p -= 12
    return p if lo <= p <= hi else int(min(max(pitch, lo), hi))


def out_of_range(notes: Iterable[tuple[int, int]]) -> int:
    """How many (program, pitch) pairs lie outside their program's range."""
    return sum(not in_range(prog, pitch) for prog, pitch in notes)
