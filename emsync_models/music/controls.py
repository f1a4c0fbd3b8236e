"""The creative controls a user has over the music: the style family and the instrument palette.

Torch-free, so the CLI, settings and the Triton wire can check a choice before any model loads.

- **Style**: one of the groove families music v2 is conditioned on (the corpus's MMA groove files,
  grouped by `emsync_models.music.v2.data.style_family`). Without one, each section takes the family
  whose training pieces' mean valence/arousal is nearest its own.
- **Palette**: the General MIDI programs the music may use, named by GM family ("piano", "strings",
  "brass") or by program name ("cello", "acoustic grand piano"), plus "drums" or "no drums". A palette
  that names instruments holds only those (drums only when named); "no drums" alone keeps every
  program and drops the drum kit. Without one, the model picks the ensemble from valence/arousal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from emsync_models.errors import InputError

# The order is the model's style embedding's: never reorder (emsync_models.music.v2.model uses it).
STYLE_FAMILIES: tuple[str, ...] = (
    "ballad", "rock", "pop", "jazz", "swing", "latin", "folk", "country", "funk", "waltz", "march", "other",
)
STYLE_DESCRIPTIONS: dict[str, str] = {
    "ballad": "slow and lyrical: sustained chords, soft drums or none (ballads, hymns, lullabies)",
    "rock": "driving straight eighths, backbeat drums, guitars and organ",
    "pop": "bright and even: steady beat, simple repeating accompaniment",
    "jazz": "blues, bebop and shuffle grooves: swung lines, seventh chords, walking bass",
    "swing": "big band and show tunes: swung quarter-note pulse, brass and reeds",
    "latin": "bossa nova, samba, rumba, tango, reggae: syncopated percussion and bass",
    "folk": "folk, polka, celtic: plain harmony, acoustic instruments, light percussion",
    "country": "country, western, bluegrass: boom-chick bass, guitars and fiddle",
    "funk": "funk, soul, R&B, disco: tight sixteenths, syncopated bass and drums",
    "waltz": "the waltz grooves' lilt, accent on one (the bars stay in four: hit points are planned in 4/4)",
    "march": "two or four strong beats, snare and brass, square phrases",
    "other": "the corpus's remaining grooves: no one family's habits",
}

# Friendly names for groups a GM family name does not say well; "strings" is the bowed strings and
# the string ensembles (GM's "Strings" family also holds harp and timpani, which a user rarely means).
ALIASES: dict[str, tuple[int, ...]] = {
    "strings": (40, 41, 42, 43, 44, 45, 48, 49, 50, 51),
    "choir": (52, 53, 54),
    "voices": (52, 53, 54),
    "woodwinds": tuple(range(64, 80)),
    "mallets": tuple(range(8, 16)),
    "guitars": tuple(range(24, 32)),
    "pianos": tuple(range(0, 8)),
    "keys": (*range(0, 8), *range(16, 21)),
    "synth": tuple(range(80, 104)),
}
DRUMS_WORDS = ("drums", "drum kit", "percussion kit")
NO_DRUMS_WORDS = ("no drums", "nodrums", "without drums")


def _norm(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def _gm_tables() -> tuple[dict[str, tuple[int, ...]], dict[str, int], list[str]]:
    """{family name: programs}, {program name: program}, program names by number (pretty_midi's GM tables)."""
    from pretty_midi.constants import INSTRUMENT_CLASSES, INSTRUMENT_MAP

    families = {_norm(name): tuple(range(8 * i, 8 * i + 8)) for i, name in enumerate(INSTRUMENT_CLASSES)}
    programs = {_norm(name): p for p, name in enumerate(INSTRUMENT_MAP)}
    return families, programs, list(INSTRUMENT_MAP)


def program_name(program: int) -> str:
    """The GM name of a program ("Acoustic Grand Piano"); -1 is the drum kit."""
    if program < 0:
        return "Drums"
    return _gm_tables()[2][int(program)]


def check_style(style: str | None) -> str | None:
    """The style's canonical name (None: chosen from valence/arousal); InputError naming the choices."""
    if style is None:
        return None
    name = _norm(style)
    if name in ("", "auto"):
        return None
    if name not in STYLE_FAMILIES:
        raise InputError(f"--style {style}", f"unknown style; choose from {', '.join(STYLE_FAMILIES)} "
                         "(see `emsync styles`)")
    return name


@dataclass(frozen=True)
class Palette:
    """The instruments the music may use: `programs` (GM 0-127; None: any) and whether drums may play."""

    programs: tuple[int, ...] | None = None
    drums: bool = True

    @property
    def free(self) -> bool:
        """No constraint at all: the model's own choice (today's behaviour)."""
        return self.programs is None and self.drums

    def allows(self, program: int, is_drum: bool = False) -> bool:
        if is_drum or program < 0:
            return self.drums
        return self.programs is None or int(program) in self.programs

    def to_params(self) -> dict | None:
        """The palette as a job's parameters (None when free, so default jobs keep their identity)."""
        return None if self.free else {"programs": None if self.programs is None else list(self.programs),
                                       "drums": self.drums}

    def describe(self) -> str:
        """The palette in words: 'Strings, Piano; no drums'."""
        return describe_programs(self.programs, self.drums)


def describe_programs(programs: Iterable[int] | None, drums: bool) -> str:
    """Programs in words, grouped by GM family where a whole family (or alias group) is present."""
    if programs is None:
        words = ["any instrument"]
    else:
        left = sorted(set(programs))
        families, _, names = _gm_tables()
        words = []
        groups = [(k, v) for k, v in ALIASES.items() if k in ("strings", "choir")]
        groups += [(k, v) for k, v in families.items()]
        for label, members in groups:
            if len(members) > 1 and set(members) <= set(left):
                words.append(label)
                left = [p for p in left if p not in members]
        words += [names[p] for p in left]
    if programs is None:
        return "any instrument" + ("" if drums else ", no drums")
    return ", ".join(words) + ("; drums" if drums else "; no drums")


def parse_palette(spec: str | None, no_drums: bool = False) -> Palette:
    """A palette from a comma-separated list ("piano,strings", "cello, flute, drums", "no drums");
    `no_drums` (the --no-drums flag) drops the drums whatever the list says. None/"" : free."""
    items = [_norm(s) for s in (spec or "").split(",") if s.strip()]
    if not items or items == ["auto"]:
        return Palette(None, not no_drums)
    families, programs, _ = _gm_tables()
    chosen: list[int] = []
    drums: bool | None = None
    for item in items:
        if item in (_norm(w) for w in NO_DRUMS_WORDS):
            drums = False
        elif item in DRUMS_WORDS:
            drums = True if drums is None else drums
        elif item in ALIASES:
            chosen.extend(ALIASES[item])
        elif item in families:
            chosen.extend(families[item])
        elif item in programs:
            chosen.append(programs[item])
        elif item.isdigit() and 0 <= int(item) <= 127:
            chosen.append(int(item))
        else:
            choices = sorted({*ALIASES, *families, "drums", "no drums"})
            raise InputError(f"--instruments {item}", "unknown instrument; name a General MIDI family "
                             f"({', '.join(choices)}), a GM program name (e.g. 'cello') or a number 0-127")
    if no_drums:
        drums = False
    if not chosen:  # only drums words: every program, drums as said
        return Palette(None, bool(drums) if drums is not None else True)
    return Palette(tuple(sorted(set(chosen))), bool(drums))


def palette_from_params(value: dict | None) -> Palette:
    if not value:
        return Palette()
    programs = value.get("programs")
    return Palette(None if programs is None else tuple(int(p) for p in programs), bool(value.get("drums", True)))


def canonical_spec(palette: Palette) -> str | None:
    """A palette as text that parses back to it (what a catalog row stores); None when free."""
    if palette.free:
        return None
    parts = [] if palette.programs is None else [str(p) for p in palette.programs]
    parts.append("drums" if palette.drums else "no drums")
    return ",".join(parts)


# Which in-palette instrument stands in for one the arranger wanted (a bass, the comp's piano, the
# final chord's strings): same GM family first, then one that can play the part (a bass line on a
# bass-capable program, a held chord on a sustaining one), then one already playing in the piece (so
# a piano-only palette ends on the piano, not on a clavinet that happens to sit nearer by number),
# then the nearest program number.
def nearest_program(program: int, palette: Iterable[int], prefer: Iterable[int] = (),
                    playing: Iterable[int] = ()) -> int:
    options = sorted(set(palette))
    if not options:
        raise InputError("instruments", "the palette has no pitched instrument for this part")
    preferred, heard = set(prefer), set(playing)
    return min(options, key=lambda p: (p // 8 != program // 8, p not in preferred, p not in heard,
                                       abs(p - program), p))
