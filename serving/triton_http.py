"""The Triton implementation: the same calls over HTTP (tritonclient[http]) to serving/model_repository.

tritonclient.http clients are not thread-safe, so each thread gets its own, created on first use.
Every call retries a bounded number of times on connection failures, timeouts and 5xx answers (a
server restarting, a model reloading) and then raises `ServingUnavailable` naming the URL and what to
do; a 4xx answer (a malformed request) raises `ServingError` at once, since a retry cannot fix it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from emsync_models.music.registry import MODELS
from serving import protocol
from serving.client import ClientMusicGenerator, ClientMusicGeneratorV2, InferenceClient, ModelInfo
from serving.errors import ServingError, ServingUnavailable

if TYPE_CHECKING:
    import tritonclient.http as httpclient

    from emsync_models.emotion.fused_input import FusedBatch
    from emsync_models.music.request import GeneratedMusic, GenerationRequest

T = TypeVar("T")

START_HINT = "start it with `infra/triton.sh start`, or set EMSYNC_MODEL_BACKEND=inprocess"


class _NotReady(Exception):
    """The server answered its health check with "not ready" (retried, then ServingUnavailable)."""


def _transient(exc: BaseException) -> bool:
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, InferenceServerException):
        status = str(exc.status() or "")
        # No status means the request never got an HTTP answer (refused, reset, timed out).
        return not status or status.startswith("5") or "unavailable" in status.lower()
    return True  # OSError, timeouts, gevent's Timeout: the connection, not the request, failed


class TritonHttpClient(InferenceClient):
    backend = "triton"

    def __init__(self, url: str, timeout_s: float = 300.0, retries: int = 3, backoff_s: float = 1.0,
                 emotion_model: str = protocol.EMOTION_MODEL, music_model: str | None = None,
                 model_version: str = "1", music_variant: str = "v2", min_gap_s: float | None = None) -> None:
        """`music_variant` (v1 | v2) picks the served music model (`music_model` overrides its name);
        `min_gap_s` is sent with every generation request (None: the served model's own)."""
        # tritonclient wants host:port; accept a pasted http:// URL too.
        self.url = url.removeprefix("http://").rstrip("/")
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.emotion_name = emotion_model
        if music_variant not in protocol.MUSIC_MODELS:
            raise ValueError(f"unknown music model {music_variant!r}; choose from {', '.join(protocol.MUSIC_MODELS)}")
        self.music_variant = music_variant
        self.music_name = music_model or protocol.MUSIC_MODELS[music_variant]
        self.min_gap_s = min_gap_s
        self.model_version = model_version
        self._local = threading.local()
        self._all: list[httpclient.InferenceServerClient] = []
        self._lock = threading.Lock()
        self._info: dict[str, ModelInfo] = {}
        self._configs: dict[str, dict] = {}

    # -- connections ---------------------------------------------------------------------------------

    def _client(self) -> httpclient.InferenceServerClient:
        client = getattr(self._local, "client", None)
        if client is None:
            import tritonclient.http as httpclient

            # The 60 s default would cut off a long soundtrack mid-generation.
            client = httpclient.InferenceServerClient(self.url, connection_timeout=self.timeout_s,
                                                      network_timeout=self.timeout_s)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def _drop_client(self) -> None:
        # After a connection error the pooled socket may be dead: reconnect on the next attempt.
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with self._lock:
                if client in self._all:
                    self._all.remove(client)
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; nothing to do
                pass

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            client.close()

    def _call(self, what: str, fn: Callable[[httpclient.InferenceServerClient], T]) -> T:
        import gevent

        delay = self.backoff_s
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            try:
                return fn(self._client())
            except (Exception, gevent.Timeout) as exc:  # gevent's Timeout is a BaseException
                if isinstance(exc, ServingError):
                    raise
                if not _transient(exc):
                    raise ServingError(f"{what} at Triton {self.url} failed: {exc}") from exc
                last = exc
                self._drop_client()
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise ServingUnavailable(
            f"{what}: Triton at {self.url} unavailable after {self.retries + 1} attempts "
            f"({type(last).__name__}: {last}); {START_HINT}"
        ) from last

    # -- readiness -----------------------------------------------------------------------------------

    def wait_ready(self) -> None:
        def check(client: httpclient.InferenceServerClient) -> None:
            if not client.is_server_ready():
                raise _NotReady("the server is up but not ready")
            for model in (self.emotion_name, self.music_name):
                if not client.is_model_ready(model, self.model_version):
                    raise _NotReady(f"model {model!r} version {self.model_version} is not ready")

        # Not-ready answers are retried like connection errors: a server loading its models is normal
        # at startup, and both end in the same ServingUnavailable once the retries are spent.
        self._call("readiness check", check)
        self.emotion_model()
        self.music_model()

    def _config(self, model: str) -> dict:
        config = self._configs.get(model)
        if config is None:
            config = self._call(f"config of {model}", lambda c: c.get_model_config(model, self.model_version))
            self._configs[model] = config
        return config

    def _max_batch(self, model: str) -> int:
        return int(self._config(model).get("max_batch_size", 0))

    def _model_info(self, model: str) -> ModelInfo:
        info = self._info.get(model)
        if info is None:
            params = self._config(model).get("parameters", {})

            def param(key: str) -> str:
                return str(params.get(key, {}).get("string_value", ""))

            if not param("model_version"):
                raise ServingError(f"{model} on Triton {self.url}: config.pbtxt declares no model_version")
            info = ModelInfo(param("model_name") or model, param("model_version"))
            self._info[model] = info
        return info

    def emotion_model(self) -> ModelInfo:
        return self._model_info(self.emotion_name)

    def music_model(self) -> ModelInfo:
        return self._model_info(self.music_name)

    # -- inference -----------------------------------------------------------------------------------

    def _infer(self, model: str, tensors: Mapping[str, np.ndarray],
               outputs: list[str]) -> dict[str, np.ndarray]:
        import tritonclient.http as httpclient
        from tritonclient.utils import np_to_triton_dtype

        def call(client: httpclient.InferenceServerClient) -> dict[str, np.ndarray]:
            inputs = []
            for name, array in tensors.items():
                array = np.ascontiguousarray(array)
                inp = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
                inp.set_data_from_numpy(array, binary_data=True)
                inputs.append(inp)
            requested = [httpclient.InferRequestedOutput(o, binary_data=True) for o in outputs]
            result = client.infer(model, inputs, model_version=self.model_version, outputs=requested)
            return {o: result.as_numpy(o) for o in outputs}

        return self._call(f"inference on {model}", call)

    def predict_emotion(self, batch: FusedBatch) -> tuple[np.ndarray, np.ndarray]:
        n = next(iter(batch.values())).shape[0]
        if n == 0:
            return np.zeros((0, 6), np.float32), np.zeros((0, 2), np.float32)
        # Extractors the served head does not read (pluggable ones) are dropped, as the in-process
        # predictor ignores them too; Triton would reject undeclared inputs.
        declared = {i["name"] for i in self._config(self.emotion_name).get("input", [])}
        batch = {k: v for k, v in batch.items() if k in declared}
        # Triton rejects a request with more rows than the model's max_batch_size: send chunks.
        step = self._max_batch(self.emotion_name) or n
        probs, va = [], []
        for start in range(0, n, step):
            chunk = {k: v[start:start + step] for k, v in batch.items()}
            out = self._infer(self.emotion_name, chunk, [protocol.PROBS, protocol.VALENCE_AROUSAL])
            probs.append(out[protocol.PROBS].astype(np.float32))
            va.append(out[protocol.VALENCE_AROUSAL].astype(np.float32))
        return np.concatenate(probs), np.concatenate(va)

    def _generation_tensors(self, request: GenerationRequest) -> dict[str, np.ndarray]:
        if self.music_variant == "v1":  # midi_generator takes no controls: said here, not as a wire error
            from emsync_models.music.request import reject_controls

            reject_controls(request, "v1")
        # The wire always carries a top-p: a request that leaves it unset gets the served model's own.
        params = protocol.GenerationParams.from_request(request, default_top_p=MODELS[self.music_variant].top_p)
        tensors = params.to_tensors()
        if self.min_gap_s is not None:
            tensors[protocol.MIN_GAP_S] = protocol.min_gap_tensor(self.min_gap_s)
        return tensors

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        out = self._infer(self.music_name, self._generation_tensors(request), [protocol.TOKENS])
        return out[protocol.TOKENS].astype(np.int64).reshape(-1)

    def generate_music(self, request: GenerationRequest) -> GeneratedMusic:
        """The whole piece from midi_generator_v2: the MIDI file it wrote and the rest of its result."""
        import io

        import pretty_midi

        from emsync_models.music.v2.generator import GeneratedMusicV2

        if self.music_variant != "v2":
            raise ServingError(f"{self.music_name} returns tokens only; decode them with music_generator()")
        outputs = [protocol.TOKENS, protocol.MIDI, protocol.RESULT]
        tokens, midi, rest = protocol.unpack_music(self._infer(self.music_name, self._generation_tensors(request),
                                                               outputs))
        return GeneratedMusicV2(midi=pretty_midi.PrettyMIDI(io.BytesIO(midi)), tokens=tokens, midi_file=midi, **rest)

    def music_generator(self) -> ClientMusicGenerator | ClientMusicGeneratorV2:
        return ClientMusicGeneratorV2(self) if self.music_variant == "v2" else ClientMusicGenerator(self)


def read_metrics(metrics_url: str, timeout_s: float = 10.0) -> dict[str, dict[str, float]]:
    """{model: {metric_name: value}} summed over versions, from Triton's /metrics endpoint."""
    import re
    import urllib.request

    url = metrics_url if metrics_url.startswith("http") else f"http://{metrics_url}"
    with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=timeout_s) as response:  # noqa: S310
        text = response.read().decode()
    out: dict[str, dict[str, float]] = {}
    # Triton's per-model counters, and our models' own (emsync_*, e.g. generation-loop time).
    pattern = re.compile(r'^((?:nv_inference|emsync)_\w+)\{[^}]*model="([^"]+)"[^}]*\}\s+([0-9.eE+-]+)$')
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            name, model, value = m.groups()
            out.setdefault(model, {}).setdefault(name, 0.0)
            out[model][name] += float(value)
    return out
