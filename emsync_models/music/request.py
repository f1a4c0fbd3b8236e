"""The music contract: the request every generator takes, the result it gives, and the protocol it honours.

Callers (the soundtrack flow, the catalog, Triton's model, the eval) hold a `MusicGenerator` and a
`GenerationRequest`; which model answers is the registry's business (`registry.load`). Torch-free, so
that settings, clients and the Triton wire can build and check requests without loading a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from emsync_models.errors import InputError
from emsync_models.music.controls import Palette, check_style

if TYPE_CHECKING:
    import pretty_midi


@dataclass(frozen=True)
class GenerationRequest:
    duration_s: float
    boundaries_s: tuple[float, ...]  # scene cuts in seconds
    # piecewise-constant trajectory: (start_s, valence, arousal), first start 0.0; V/A in [-1, 1]
    emotion: tuple[tuple[float, float, float], ...]
    seed: int = 0
    temperature: float = 1.0
    top_p: float | None = None  # None: the generator's own (registry: v1 0.95, v2 0.8)
    top_k: int | None = None
    # The user's controls (emsync_models.music.controls): a style family (None: chosen per section from
    # valence/arousal), the GM programs the music may use (None: any) and whether drums may play.
    style: str | None = None
    instruments: tuple[int, ...] | None = None
    drums: bool = True

    @property
    def palette(self) -> Palette:
        return Palette(self.instruments, self.drums)


@dataclass
class GeneratedMusic:
    midi: pretty_midi.PrettyMIDI
    tokens: list[int]
    chord_change_times_s: list[float]  # chord changes analysed in the MIDI (chords.chord_change_times)
    chord_marker_times_s: list[float] = field(default_factory=list)  # where the model emitted CHORD
    # Hit points (v2): the tempo map the MIDI was written with, and per kept cut the beat it landed on
    # and when its new chord sounds. Empty where a model does not plan hits (v1).
    tempo_map: dict = field(default_factory=dict)
    cut_chords: list[dict] = field(default_factory=list)
    # The plan before the notes (v2): sections with their tempo, key, intensity, drums and themes.
    plan: dict = field(default_factory=dict)


def validate_request(request: GenerationRequest) -> None:
    """Raise InputError naming the field when a request cannot be served."""
    if not np.isfinite(request.duration_s) or request.duration_s <= 0:
        raise InputError("duration_s", f"must be a positive number of seconds, got {request.duration_s}")
    if not request.emotion:
        raise InputError("emotion", "needs at least one (start_s, valence, arousal) entry")
    if request.emotion[0][0] != 0.0:
        raise InputError("emotion", f"the first entry must start at 0.0, not {request.emotion[0][0]}")
    starts = [e[0] for e in request.emotion]
    if starts != sorted(starts):
        raise InputError("emotion", "entries must be in increasing start order")
    for _, v, a in request.emotion:
        if not (-1.0 <= v <= 1.0 and -1.0 <= a <= 1.0):
            raise InputError("emotion", f"valence/arousal must lie in [-1, 1], got ({v}, {a})")
    if any(not np.isfinite(b) for b in request.boundaries_s):
        raise InputError("boundaries_s", "must be finite seconds")
    if request.temperature < 0:
        raise InputError("temperature", f"must be >= 0, got {request.temperature}")
    if request.top_p is not None and not 0.0 < request.top_p <= 1.0:
        raise InputError("top_p", f"must lie in (0, 1], got {request.top_p}")
    if request.top_k is not None and request.top_k < 1:
        raise InputError("top_k", f"must be >= 1 when given, got {request.top_k}")
    if request.style is not None and check_style(request.style) != request.style:
        raise InputError("style", f"{request.style!r} is not a canonical style name")
    if request.instruments is not None and (not request.instruments
                                            or any(not 0 <= int(p) <= 127 for p in request.instruments)):
        raise InputError("instruments", "must be General MIDI programs 0-127 (at least one), or unset")


def reject_controls(request: GenerationRequest, model: str) -> None:
    """For a model without style or instrument control (v1): say so rather than ignore the choice."""
    if request.style is not None or not request.palette.free:
        raise InputError("--style/--instruments", f"music {model} has no style or instrument control; "
                         "use music v2 (EMSYNC_MUSIC_MODEL=v2)")


def top_p_for(request: GenerationRequest, default: float) -> float:
    """The request's top-p, or the model's own (`default`) where the request leaves it unset."""
    return default if request.top_p is None else request.top_p


def emotion_at(trajectory: Sequence[tuple[float, float, float]], t: float) -> tuple[float, float]:
    """(valence, arousal) of a piecewise-constant trajectory of (start_s, valence, arousal) at time t."""
    v, a = trajectory[0][1], trajectory[0][2]
    for start, val, aro in trajectory:
        if start <= t:
            v, a = val, aro
        else:
            break
    return v, a


def output_key_shift(seed: int) -> int:
    """The semitones a key-normalised model's music is moved by for this seed (-5..+6)."""
    return int(np.random.default_rng([seed, 12]).integers(-5, 7))


@runtime_checkable
class MusicGenerator(Protocol):
    """What every music model offers its callers (v1, v2, and a client answered by a server).

    `name` and `version` (the checkpoint's digest) go into job identities; `generate_tokens` is the
    whole sampling loop (what Triton serves); `generate` adds the decoding to MIDI and what was analysed.
    Cuts closer than `min_gap_s` to the previous kept cut merge into it (the 4-second rule); where a
    request leaves top-p unset, a model samples with its own (the registry's `ModelSpec.top_p`).
    """

    min_gap_s: float

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray: ...

    def generate(self, request: GenerationRequest) -> GeneratedMusic: ...
