"""The music generator as the rest of EMSYNC sees it: a request in, MIDI (and its tokens) out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from emsync_models.errors import InputError
from emsync_models.music.analysis.chords import chord_change_times
from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S, merge_boundaries
from emsync_models.music.sampling_defaults import V1_TOP_P
from emsync_models.music.v1.model import MusicTransformer, MusicTransformerConfig, upgrade_state_dict
from emsync_models.music.v1.sample import SamplingOptions, generate
from emsync_models.music.v1.vocab import EventTokenizer, Note

CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "music-small.pt"


@dataclass(frozen=True)
class GenerationRequest:
    duration_s: float
    boundaries_s: tuple[float, ...]  # scene cuts in seconds
    # piecewise-constant trajectory: (start_s, valence, arousal), first start 0.0; V/A in [-1, 1]
    emotion: tuple[tuple[float, float, float], ...]
    seed: int = 0
    temperature: float = 1.0
    top_p: float | None = None  # None: the generator's own (sampling_defaults: v1 0.95, v2 0.8)
    top_k: int | None = None


@dataclass
class GeneratedMusic:
    midi: pretty_midi.PrettyMIDI
    tokens: list[int]
    chord_change_times_s: list[float]  # chord changes analysed in the MIDI (chords.chord_change_times)
    chord_marker_times_s: list[float] = field(default_factory=list)  # where the model emitted CHORD


def validate_request(request: GenerationRequest) -> None:
    """Raise InputError naming the field when a request cannot be served."""
    if not np.isfinite(request.duration_s) or request.duration_s <= 0:
        raise InputError("duration_s", f"must be a positive number of seconds, got {request.duration_s}")
    if request.duration_s > 3600:
        raise InputError("duration_s", f"at most 3600 s per request, got {request.duration_s}")
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


def top_p_for(request: GenerationRequest, default: float) -> float:
    """The request's top-p, or the model's own (`default`) where the request leaves it unset."""
    return default if request.top_p is None else request.top_p


class MusicGenerator:
    """A loaded checkpoint plus the tokenizer; thread-compatible, not thread-safe (one per worker)."""

    default_top_p = V1_TOP_P

    def __init__(
        self,
        model: MusicTransformer,
        name: str = "emsync-music-small",
        version: str = "untrained",
        min_gap_s: float = DEFAULT_MIN_GAP_S,
        metadata: dict | None = None,
        guidance: float = 1.0,
    ) -> None:
        self.model = model.eval()
        self.name = name
        self.version = version
        self.min_gap_s = min_gap_s
        self.guidance = guidance
        # Generated streams sometimes drop a note-off; a chorale-like note rarely outlasts 4 s.
        self.max_note_s: float | None = 4.0
        self.metadata = metadata or {}
        self.tokenizer = EventTokenizer()
        # A model trained in C (transforms.key normalisation) gets a key per seed, -5..+6 semitones.
        self.key_normalised = bool(self.metadata.get("key_normalised", False))

    def generate_tokens(self, request: GenerationRequest, neutralise_boundaries: bool = False) -> np.ndarray:
        """Int64 token ids for the request: the whole KV-cached sampling loop."""
        return np.asarray(self._trace(request, neutralise_boundaries).tokens, dtype=np.int64)

    def _trace(self, request: GenerationRequest, neutralise_boundaries: bool = False, snap: bool = True):  # noqa: ANN202
        validate_request(request)
        bounds = merge_boundaries(request.boundaries_s, self.min_gap_s, request.duration_s)
        options = SamplingOptions(
            request.temperature, top_p_for(request, self.default_top_p), request.top_k, snap_to_boundaries=snap,
            guidance=self.guidance,
        )
        return generate(
            self.model,
            request.duration_s,
            request.emotion,
            bounds,
            seed=request.seed,
            options=options,
            neutralise_boundaries=neutralise_boundaries,
            transpose=output_key_shift(request.seed) if self.key_normalised else 0,
        )

    def decode(self, tokens: Sequence[int], end_time: float | None = None) -> pretty_midi.PrettyMIDI:
        return self.tokenizer.decode(tokens, end_time, self.max_note_s)

    def decode_notes(self, tokens: Sequence[int], end_time: float | None = None) -> list[Note]:
        return self.tokenizer.decode_notes(tokens, end_time, self.max_note_s)

    def generate(
        self, request: GenerationRequest, neutralise_boundaries: bool = False, snap: bool = True
    ) -> GeneratedMusic:
        """MIDI for the request. `neutralise_boundaries` and `snap=False` exist for the ablations."""
        trace = self._trace(request, neutralise_boundaries, snap)
        midi = self.decode(trace.tokens, end_time=request.duration_s)
        return GeneratedMusic(midi, list(trace.tokens), chord_change_times(midi), list(trace.chord_marker_times))


def output_key_shift(seed: int) -> int:
    """The semitones a key-normalised model's music is moved by for this seed (-5..+6)."""
    return int(np.random.default_rng([seed, 12]).integers(-5, 7))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(path: Path) -> tuple[MusicTransformer, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = MusicTransformer(MusicTransformerConfig(**payload["model_config"]))
    model.load_state_dict(upgrade_state_dict({k: v.float() for k, v in payload["state_dict"].items()}))
    return model.eval(), payload


def load_generator(checkpoint: Path | None = None, device: str = "cpu") -> MusicGenerator:
    """The generator from `checkpoint` (None: the committed default). CPU is what it is tuned for."""
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    if not path.is_file():
        raise InputError(path, "music checkpoint not found")
    if device != "cpu":
        raise InputError(device, "only the cpu device is supported by this generator build")
    model, payload = load_checkpoint(path)
    meta = {k: v for k, v in payload.items() if k not in ("state_dict",)}
    name = payload.get("name", "emsync-music-small")
    guidance = float(payload.get("guidance", 1.0))
    return MusicGenerator(model, name=name, version=file_sha256(path)[:12], metadata=meta, guidance=guidance)
