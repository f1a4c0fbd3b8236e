"""Serving pieces that need no server: the wire format, retries against a dead port, config drift."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from serving import protocol
from serving.errors import ServingError, ServingUnavailable
from serving.triton_http import TritonHttpClient
from serving.triton_model import MODEL_REPOSITORY, check_identity, model_parameters, resolve_checkpoint

REPO = Path(__file__).resolve().parents[2]
MODEL_REPO = REPO / "serving" / "model_repository"


class Req:  # GenerationRequest's shape without importing the generator
    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


@pytest.mark.parametrize("boundaries, top_k", [((3.25, 7.125), 12), ((), None)])
def test_generation_params_round_trip_exactly(boundaries, top_k):
    req = Req(duration_s=12.345678901, boundaries_s=boundaries, emotion=((0.0, 0.1, -0.2), (6.5, -0.7, 0.3)),
              seed=2**40 + 7, temperature=0.9, top_p=0.95, top_k=top_k)
    params = protocol.GenerationParams.from_request(req)
    tensors = params.to_tensors()
    assert (protocol.BOUNDARIES_S in tensors) == bool(boundaries)
    assert (protocol.TOP_K in tensors) == (top_k is not None)
    assert all(t.dtype in (np.float64, np.int64) for t in tensors.values())
    assert protocol.GenerationParams.from_tensors(tensors) == params  # FP64: no rounding on the wire


def test_an_unset_top_p_crosses_the_wire_as_the_served_models_own():
    req = Req(duration_s=5.0, boundaries_s=(), emotion=((0.0, 0.0, 0.0),), seed=0, temperature=1.0, top_p=None,
              top_k=None)
    tensors = protocol.GenerationParams.from_request(req, default_top_p=0.95).to_tensors()
    assert float(tensors[protocol.TOP_P].reshape(-1)[0]) == 0.95
    with pytest.raises(ValueError, match="top_p is unset"):
        protocol.GenerationParams.from_request(req)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_server_gives_clear_error_after_bounded_retries():
    url = f"127.0.0.1:{free_port()}"
    client = TritonHttpClient(url, timeout_s=2.0, retries=2, backoff_s=0.05)
    start = time.monotonic()
    with pytest.raises(ServingUnavailable) as info:
        client.wait_ready()
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert url in message and "3 attempts" in message and "infra/triton.sh start" in message
    with pytest.raises(ServingUnavailable):
        client.generate_tokens(Req(duration_s=1.0, boundaries_s=(), emotion=((0.0, 0.0, 0.0),), seed=0,
                                   temperature=1.0, top_p=0.9, top_k=None))


def test_serving_unavailable_is_a_serving_error():
    assert issubclass(ServingUnavailable, ServingError)


def test_identity_check_refuses_undeclared_weights(tmp_path):
    params = {"model_name": "m", "model_version": "v1"}
    check_identity(params, "m", "v1", None)
    with pytest.raises(ValueError, match="update config.pbtxt"):
        check_identity(params, "m", "v2", None)
    assert resolve_checkpoint("", tmp_path) is None
    with pytest.raises(FileNotFoundError):
        resolve_checkpoint("nope.pt", tmp_path)


def declared(model: str) -> dict[str, str]:
    text = (MODEL_REPO / model / "config.pbtxt").read_text()
    return dict(re.findall(r'key: "(\w+)",\s*value: \{ string_value: "([^"]*)" \}', text))


def test_emotion_config_declares_the_served_heads_identity():
    from emsync_models.emotion.predictor import FusionPredictor

    params = declared("emotion_fusion")
    ckpt = resolve_checkpoint(params["checkpoint"], MODEL_REPOSITORY / "emotion_fusion")
    head = FusionPredictor.default() if ckpt is None else FusionPredictor.from_checkpoint(ckpt)
    assert (params["model_name"], params["model_version"]) == (head.name, head.version)
    assert model_parameters({"parameters": {"a": {"string_value": "b"}}}) == {"a": "b"}


def _served_generator(name: str, ckpt: Path, load_model):
    """The session's generator when the served checkpoint is the registered one (no second load)."""
    from emsync_models.music import registry

    if ckpt.resolve() == registry.spec(name).checkpoint.resolve():
        return load_model(name)
    return registry.load(name, ckpt)


def test_generator_config_declares_the_committed_checkpoints_identity(load_model):
    # A retrained checkpoint changes its version (a hash of the file): config.pbtxt must follow, or the
    # Triton model refuses to load. This catches it before any server starts.
    from emsync_models.music.v1.generator import DEFAULT_CHECKPOINT

    params = declared("midi_generator")
    ckpt = resolve_checkpoint(params["checkpoint"], MODEL_REPOSITORY / "midi_generator") or DEFAULT_CHECKPOINT
    if not ckpt.is_file():
        pytest.skip(f"no music checkpoint committed yet at {ckpt}")
    generator = _served_generator("v1", ckpt, load_model)
    assert (params["model_name"], params["model_version"]) == (generator.name, generator.version), (
        "the music checkpoint changed: run `python -m serving.pin_versions`")


def test_v2_generator_config_declares_the_committed_checkpoints_identity(load_model):
    from emsync_models.music.v2.generator import CHECKPOINT_V2

    params = declared(protocol.MUSIC_MODEL_V2)
    ckpt = resolve_checkpoint(params["checkpoint"], REPO) if params["checkpoint"] else CHECKPOINT_V2
    generator = _served_generator("v2", ckpt, load_model)
    assert (params["model_name"], params["model_version"]) == (generator.name, generator.version), (
        "the music v2 checkpoint changed: run `python -m serving.pin_versions`")


@pytest.mark.slow
def test_v2_piece_survives_the_wire_whole(tmp_path, v2_generator):
    # What midi_generator_v2 sends and the client rebuilds: the same result, and the same MIDI file written.
    import io

    import pretty_midi

    from emsync_models.music.request import GenerationRequest
    from emsync_models.music.v2.generator import GeneratedMusicV2
    from emsync_models.render.midi_file import write_midi

    request = GenerationRequest(duration_s=6.0, boundaries_s=(2.5,), emotion=((0.0, 0.4, 0.3),), seed=5)
    music = v2_generator.generate(request)
    outputs = protocol.pack_music(music)
    assert set(outputs) == {protocol.TOKENS, protocol.MIDI, protocol.RESULT}
    tokens, midi, rest = protocol.unpack_music(outputs)
    rebuilt = GeneratedMusicV2(midi=pretty_midi.PrettyMIDI(io.BytesIO(midi)), tokens=tokens, midi_file=midi, **rest)
    assert rebuilt.tokens == music.tokens and rebuilt.cut_chords == music.cut_chords
    assert (rebuilt.tempo_map, rebuilt.style) == (music.tempo_map, music.style)
    assert rebuilt.chord_change_times_s == music.chord_change_times_s
    assert rebuilt.chord_marker_times_s == music.chord_marker_times_s
    assert rebuilt.midi_file == music.midi_file
    assert [[(n.start, n.end, n.pitch, n.velocity) for n in i.notes] for i in rebuilt.midi.instruments] == [
        [(n.start, n.end, n.pitch, n.velocity) for n in i.notes] for i in music.midi.instruments]
    a, b = write_midi(music.midi, tmp_path / "a.mid", 6.0), write_midi(rebuilt.midi, tmp_path / "b.mid", 6.0)
    assert a.read_bytes() == b.read_bytes()


def test_factory_picks_the_backend_from_settings():
    from flows.inference import make_inference_client
    from flows.settings import Settings
    from serving.inprocess import InProcessClient

    assert isinstance(make_inference_client(Settings().models), InProcessClient)
    client = make_inference_client(Settings(model_backend="triton", triton_url="127.0.0.1:1", triton_retries=5,
                                            triton_timeout_s=120.0).models, 4.0)
    assert isinstance(client, TritonHttpClient)
    assert (client.url, client.retries, client.timeout_s) == ("127.0.0.1:1", 5, 120.0)
    assert (client.music_variant, client.music_name, client.min_gap_s) == ("v2", protocol.MUSIC_MODEL_V2, 4.0)
    settings = Settings(model_backend="triton", music_model="v1", min_boundary_gap_s=2.5)
    v1 = make_inference_client(settings.models, settings.cuts.min_boundary_gap_s)
    assert (v1.music_name, v1.min_gap_s) == (protocol.MUSIC_MODEL, 2.5)


def test_flow_readiness_check_fails_fast_and_is_not_cached():
    from flows.inference import check_models_ready
    from flows.settings import Settings

    settings = Settings(model_backend="triton", triton_url=f"127.0.0.1:{free_port()}", triton_retries=1,
                        music_model="v1")
    for _ in range(2):  # a failed check is not remembered: the second call tries the server again
        start = time.monotonic()
        with pytest.raises(ServingUnavailable, match="2 attempts"):
            check_models_ready(settings)
        assert time.monotonic() - start < 10
    check_models_ready(Settings())  # in-process: nothing to wait for, loads nothing
