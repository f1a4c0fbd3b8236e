"""The wire format shared by the Triton client and the Triton models' `model.py`: names, types, packing.

Both sides import this one module so the tensor layout cannot drift between them. Floats that come
from Python (durations, boundaries, temperature) travel as FP64 so the server sees exactly the values
the in-process path sees; the parity test depends on that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

EMOTION_MODEL = "emotion_fusion"
MUSIC_MODEL = "midi_generator"  # music v1: tokens out, decoded by the client
MUSIC_MODEL_V2 = "midi_generator_v2"  # music v2: the whole piece out (tokens, the MIDI file, the rest as JSON)
MUSIC_MODELS: dict[str, str] = {"v1": MUSIC_MODEL, "v2": MUSIC_MODEL_V2}

# emotion_fusion: every fused-batch array is an input under its own key ("face", "face_mask", ...).
PROBS = "PROBS"
VALENCE_AROUSAL = "VALENCE_AROUSAL"
MODEL_NAME = "MODEL_NAME"
MODEL_VERSION = "MODEL_VERSION"

# midi_generator: one request is one soundtrack.
DURATION_S = "DURATION_S"
BOUNDARIES_S = "BOUNDARIES_S"
EMOTION = "EMOTION"
SEED = "SEED"
TEMPERATURE = "TEMPERATURE"
TOP_P = "TOP_P"
TOP_K = "TOP_K"
TOKENS = "TOKENS"
# optional on both music models: cuts closer than this to the previous kept cut merge (left out: the model's own)
MIN_GAP_S = "MIN_GAP_S"
# midi_generator_v2's outputs beside TOKENS. v2 writes its MIDI from a plan (tempo map, meter, bars, key)
# and arranges parts (bass on cuts, comp, cadence) the tokens alone do not hold, so the server sends the
# file it wrote and every other field of its result; the client rebuilds the same result from them.
MIDI = "MIDI"
RESULT = "RESULT"
# midi_generator_v2's optional controls (emsync_models.music.controls), each left out at its default so a
# request without them is the same request as before: the style family's name, the GM programs the
# music may use, and DRUMS false for "no drums".
STYLE = "STYLE"
INSTRUMENTS = "INSTRUMENTS"
DRUMS = "DRUMS"

# Triton data types of numpy dtypes we send (tritonclient has its own table; this one is for model.py too).
TRITON_DTYPES: dict[str, str] = {"float32": "FP32", "float64": "FP64", "int64": "INT64", "bool": "BOOL"}


@dataclass(frozen=True)
class GenerationParams:
    """A GenerationRequest as plain values: what crosses the wire and what model.py rebuilds from."""

    duration_s: float
    boundaries_s: tuple[float, ...]
    emotion: tuple[tuple[float, float, float], ...]
    seed: int
    temperature: float
    top_p: float
    top_k: int | None
    style: str | None = None
    instruments: tuple[int, ...] | None = None
    drums: bool = True

    @classmethod
    def from_request(cls, request: Any, default_top_p: float | None = None) -> GenerationParams:  # noqa: ANN401
        """Plain values of any GenerationRequest-like; an unset top-p becomes `default_top_p` (the served
        model's own), since the wire always carries one."""
        top_p = request.top_p if request.top_p is not None else default_top_p
        if top_p is None:
            raise ValueError("top_p is unset and no default_top_p was given")
        return cls(
            duration_s=float(request.duration_s),
            boundaries_s=tuple(float(b) for b in request.boundaries_s),
            emotion=tuple((float(s), float(v), float(a)) for s, v, a in request.emotion),
            seed=int(request.seed),
            temperature=float(request.temperature),
            top_p=float(top_p),
            top_k=None if request.top_k is None else int(request.top_k),
            style=getattr(request, "style", None),
            instruments=None if getattr(request, "instruments", None) is None
            else tuple(int(p) for p in request.instruments),
            drums=bool(getattr(request, "drums", True)),
        )

    def to_tensors(self) -> dict[str, np.ndarray]:
        """Named arrays for midi_generator, each with a leading batch dimension of 1 (the model batches
        concurrent requests). Empty boundaries/top_k are left out: both inputs are optional because
        HTTP clients cannot always send zero-sized tensors, and 0 is a valid-looking top_k."""
        tensors = {
            DURATION_S: np.array([[self.duration_s]], np.float64),
            EMOTION: np.array(self.emotion, np.float64).reshape(1, -1, 3),
            SEED: np.array([[self.seed]], np.int64),
            TEMPERATURE: np.array([[self.temperature]], np.float64),
            TOP_P: np.array([[self.top_p]], np.float64),
        }
        if self.boundaries_s:
            tensors[BOUNDARIES_S] = np.array([self.boundaries_s], np.float64)
        if self.top_k is not None:
            tensors[TOP_K] = np.array([[self.top_k]], np.int64)
        if self.style is not None:
            tensors[STYLE] = string_tensor(self.style, rows=1)
        if self.instruments is not None:
            tensors[INSTRUMENTS] = np.array([self.instruments], np.int64)
        if not self.drums:
            tensors[DRUMS] = np.array([[False]], np.bool_)
        return tensors

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray]) -> GenerationParams:
        boundaries = tensors.get(BOUNDARIES_S)
        top_k = tensors.get(TOP_K)
        style, instruments, drums = tensors.get(STYLE), tensors.get(INSTRUMENTS), tensors.get(DRUMS)
        emotion = np.asarray(tensors[EMOTION], np.float64).reshape(-1, 3)
        return cls(
            duration_s=float(tensors[DURATION_S].reshape(-1)[0]),
            boundaries_s=() if boundaries is None else tuple(float(b) for b in boundaries.reshape(-1)),
            emotion=tuple((float(s), float(v), float(a)) for s, v, a in emotion),
            seed=int(tensors[SEED].reshape(-1)[0]),
            temperature=float(tensors[TEMPERATURE].reshape(-1)[0]),
            top_p=float(tensors[TOP_P].reshape(-1)[0]),
            top_k=None if top_k is None else int(top_k.reshape(-1)[0]),
            style=None if style is None else decode_string(style),
            instruments=None if instruments is None else tuple(int(p) for p in instruments.reshape(-1)),
            drums=True if drums is None else bool(drums.reshape(-1)[0]),
        )


def string_tensor(value: str, rows: int | None = None) -> np.ndarray:
    """A BYTES tensor holding `value`: shape [1], or [rows, 1] for a batched model's output."""
    cell = np.array([value.encode()], dtype=np.object_)
    return cell if rows is None else np.tile(cell, (rows, 1))


def decode_string(array: np.ndarray) -> str:
    value = array.reshape(-1)[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def min_gap_tensor(min_gap_s: float) -> np.ndarray:
    return np.array([[float(min_gap_s)]], np.float64)


def min_gap_from(tensors: Mapping[str, np.ndarray], default: float) -> float:
    value = tensors.get(MIN_GAP_S)
    return default if value is None else float(value.reshape(-1)[0])


def midi_bytes(midi: Any) -> bytes:  # noqa: ANN401 - a pretty_midi.PrettyMIDI
    """The standard MIDI file of a PrettyMIDI (read back, it writes these same bytes)."""
    import io

    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def pack_music(music: Any) -> dict[str, np.ndarray]:  # noqa: ANN401 - a generated-music dataclass
    """midi_generator_v2's outputs for one generated piece: TOKENS int64 [1, T], MIDI the file's bytes
    [1, 1], RESULT JSON [1, 1] of every other dataclass field (floats survive JSON exactly)."""
    import json
    from dataclasses import fields

    rest = {f.name: getattr(music, f.name) for f in fields(music) if f.name not in ("midi", "tokens", "midi_file")}
    # the bytes `midi` was read from where the generator kept them: the client's reader then sees what
    # the in-process one saw (a rewrite can pair overlapping notes of one pitch differently)
    data = getattr(music, "midi_file", b"") or midi_bytes(music.midi)
    return {
        TOKENS: np.asarray(music.tokens, np.int64).reshape(1, -1),
        MIDI: np.array([[data]], dtype=np.object_),
        RESULT: string_tensor(json.dumps(rest), rows=1),
    }


def unpack_music(outputs: Mapping[str, np.ndarray]) -> tuple[list[int], bytes, dict[str, Any]]:
    """(tokens, MIDI file bytes, the other fields) from midi_generator_v2's outputs."""
    import json

    raw = outputs[MIDI].reshape(-1)[0]
    return ([int(t) for t in np.asarray(outputs[TOKENS]).reshape(-1)], bytes(raw),
            json.loads(decode_string(outputs[RESULT])))
