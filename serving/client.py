"""One inference interface, two implementations: in-process PyTorch and Triton over HTTP.

Callers (the flows, the benchmark) hold an `InferenceClient` and never know which one it is:

    client.wait_ready()                                 # raises ServingUnavailable with a clear message
    probs, va = client.predict_emotion(fused_batch)     # Ekman-6 probabilities [N, 6], V/A [N, 2]
    tokens = client.generate_tokens(generation_request) # the whole KV-cached loop, int64 [T]
    client.emotion_model(), client.music_model()        # ModelInfo(name, version) for idempotency keys

`emotion_predictor()` and `music_generator()` adapt a client to the objects `emsync_models` already
accepts (an injected fusion predictor; a generator with generate/decode), so flows run unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pretty_midi

    from emsync_models.emotion.fused_input import FusedBatch
    from emsync_models.music.request import GeneratedMusic, GenerationRequest


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str


class InferenceClient(ABC):
    """The interface. Implementations must be safe to call from several threads at once."""

    backend: str = ""

    @abstractmethod
    def wait_ready(self) -> None:
        """Return once both models can serve; raise `ServingUnavailable` after bounded retries."""

    @abstractmethod
    def predict_emotion(self, batch: FusedBatch) -> tuple[np.ndarray, np.ndarray]:
        """(probs float32 [N, 6] in EKMAN6 order, valence/arousal float32 [N, 2]) for a fused batch."""

    @abstractmethod
    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        """The generated token ids (int64 [T]) for one soundtrack request."""

    def generate_music(self, request: GenerationRequest) -> GeneratedMusic:
        """The whole generated piece (MIDI and its analysis), where the backend's music model returns it
        (music v2); a tokens-only model (v1) is decoded by `music_generator()` instead."""
        raise NotImplementedError(f"{type(self).__name__} returns tokens only for this music model")

    @abstractmethod
    def emotion_model(self) -> ModelInfo: ...

    @abstractmethod
    def music_model(self) -> ModelInfo: ...

    def close(self) -> None:  # noqa: B027 - optional hook, most implementations hold nothing
        """Release connections; the client must not be used afterwards."""

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def emotion_predictor(self) -> ClientFusionPredictor:
        return ClientFusionPredictor(self)

    def music_generator(self) -> ClientMusicGenerator:
        return ClientMusicGenerator(self)


class ClientFusionPredictor:
    """The `PredictFn` an `EmotionAnalyzer` accepts, answered by a client (name/version included)."""

    def __init__(self, client: InferenceClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return self.client.emotion_model().name

    @property
    def version(self) -> str:
        return self.client.emotion_model().version

    def __call__(self, batch: FusedBatch) -> tuple[np.ndarray, np.ndarray]:
        return self.client.predict_emotion(batch)


class ClientMusicGenerator:
    """A `MusicGenerator` (emsync_models.music.request) whose tokens come from the client, while
    validation, decoding and chord analysis stay in-process (they need the vocabulary, not weights)."""

    def __init__(self, client: InferenceClient) -> None:
        from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S
        from emsync_models.music.v1.vocab import EventTokenizer

        self.client = client
        self.tokenizer = EventTokenizer()
        # the gap the client sends with each request (the served model's own when it sends none)
        self.min_gap_s = float(getattr(client, "min_gap_s", None) or DEFAULT_MIN_GAP_S)

    @property
    def name(self) -> str:
        return self.client.music_model().name

    @property
    def version(self) -> str:
        return self.client.music_model().version

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        from emsync_models.music.request import validate_request

        # Bad input raises InputError here, exactly as in-process, instead of as a server error.
        validate_request(request)
        return self.client.generate_tokens(request)

    def decode(self, tokens: Sequence[int], end_time: float | None = None) -> pretty_midi.PrettyMIDI:
        return self.tokenizer.decode(tokens, end_time)

    def generate(self, request: GenerationRequest) -> GeneratedMusic:
        # Mirrors MusicGenerator.generate; the CHORD marker times are recomputed from the tokens,
        # which is what the generation loop's clock did while sampling them.
        from emsync_models.music.analysis.chords import chord_change_times
        from emsync_models.music.request import GeneratedMusic

        tokens = [int(t) for t in self.generate_tokens(request)]
        midi = self.decode(tokens, end_time=request.duration_s)
        return GeneratedMusic(midi, tokens, chord_change_times(midi), self.tokenizer.marker_times(tokens))


class ClientMusicGeneratorV2:
    """Music v2 through a client: the server plans, samples and writes the piece (hit points, tempo map,
    arrangement), and returns it whole, so the result equals `MusicGeneratorV2.generate`'s."""

    def __init__(self, client: InferenceClient) -> None:
        from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S

        self.client = client
        self.min_gap_s = float(getattr(client, "min_gap_s", None) or DEFAULT_MIN_GAP_S)

    @property
    def name(self) -> str:
        return self.client.music_model().name

    @property
    def version(self) -> str:
        return self.client.music_model().version

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        from emsync_models.music.request import validate_request

        validate_request(request)
        return self.client.generate_tokens(request)

    def generate(self, request: GenerationRequest) -> GeneratedMusic:
        from emsync_models.music.request import validate_request

        validate_request(request)  # bad input is InputError here, as in-process
        return self.client.generate_music(request)
