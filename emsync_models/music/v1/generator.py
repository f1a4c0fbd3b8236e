"""The music generator as the rest of EMSYNC sees it: a request in, MIDI (and its tokens) out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from emsync_models.errors import InputError
from emsync_models.music.analysis.chords import chord_change_times
from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S, merge_boundaries
from emsync_models.music.notes import Note
from emsync_models.music.registry import V1, file_sha256
from emsync_models.music.request import (
    GeneratedMusic,
    GenerationRequest,
    output_key_shift,
    reject_controls,
    top_p_for,
    validate_request,
)
from emsync_models.music.v1.model import MusicTransformer, MusicTransformerConfig, upgrade_state_dict
from emsync_models.music.v1.sample import SamplingOptions, generate
from emsync_models.music.v1.vocab import EventTokenizer

DEFAULT_CHECKPOINT = V1.checkpoint


class MusicGeneratorV1:
    """A loaded checkpoint plus the tokenizer; thread-compatible, not thread-safe (one per worker)."""

    default_top_p = V1.top_p

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
        reject_controls(request, "v1")
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


def load_checkpoint(path: Path) -> tuple[MusicTransformer, dict]:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = MusicTransformer(MusicTransformerConfig(**payload["model_config"]))
    model.load_state_dict(upgrade_state_dict({k: v.float() for k, v in payload["state_dict"].items()}))
    return model.eval(), payload


def load_generator(checkpoint: Path | None = None, device: str = "cpu") -> MusicGeneratorV1:
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
    return MusicGeneratorV1(model, name=name, version=file_sha256(path)[:12], metadata=meta, guidance=guidance)
