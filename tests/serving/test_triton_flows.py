"""The soundtrack job's model stages, unchanged, give the same outputs with the Triton backend configured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.settings import Settings
from serving import protocol
from serving.triton_http import TritonHttpClient, read_metrics
from serving.triton_model import MODEL_REPOSITORY, model_parameters, resolve_checkpoint

TRITON_URL = os.environ.get("EMSYNC_TEST_TRITON_URL", "")
METRICS_URL = os.environ.get("EMSYNC_TEST_TRITON_METRICS_URL", "")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TRITON_URL, reason="EMSYNC_TEST_TRITON_URL is unset: start Triton with "
                       "`infra/triton.sh start` and export what it prints (the CI script does)"),
]


@pytest.fixture(scope="module")
def both_settings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Settings]:
    probe = TritonHttpClient(TRITON_URL, retries=2)
    probe.wait_ready()

    def served(model: str) -> Path | None:
        return resolve_checkpoint(model_parameters(probe._config(model)).get("checkpoint", ""),
                                  MODEL_REPOSITORY / model)

    # One data dir for both, so the second analysis reuses the first one's cached features and only
    # the fusion step (the part that moved to Triton) runs again.
    common = {"data_dir": tmp_path_factory.mktemp("flows-parity"),
              "emotion_checkpoint": served(protocol.EMOTION_MODEL), "music_checkpoint": served(protocol.MUSIC_MODEL)}
    probe.close()
    return Settings(**common), Settings(model_backend="triton", triton_url=TRITON_URL, **common)


def served_requests() -> dict[str, float]:
    counts = read_metrics(METRICS_URL) if METRICS_URL else {}
    return {m: counts.get(m, {}).get("nv_inference_request_success", 0.0)
            for m in (protocol.EMOTION_MODEL, *protocol.MUSIC_MODELS.values())}


def notes(midi: object) -> list:
    # sorted: a MIDI reader lists a track's notes in its file's event order, which differs between writers
    return [sorted((n.start, n.end, n.pitch, n.velocity) for n in i.notes) for i in midi.instruments]


@pytest.mark.parametrize("variant", sorted(protocol.MUSIC_MODELS))
def test_compose_music_same_with_triton(both_settings, variant):
    from flows.soundtrack import compose_music

    # the checkpoint the server declares for this variant (both_settings names v1's)
    probe = TritonHttpClient(TRITON_URL, retries=2, music_variant=variant)
    model = protocol.MUSIC_MODELS[variant]
    checkpoint = resolve_checkpoint(model_parameters(probe._config(model)).get("checkpoint", ""),
                                    MODEL_REPOSITORY / model)
    probe.close()
    local, remote = (s.model_copy(update={"models": s.models.model_copy(
        update={"music_model": variant, "music_checkpoint": checkpoint})}) for s in both_settings)
    trajectory = ((0.0, 0.4, -0.2), (2.0, -0.6, 0.5))
    before = served_requests()
    got = compose_music(4.0, [2.0], trajectory, 5, remote)
    want = compose_music(4.0, [2.0], trajectory, 5, local)
    if METRICS_URL:  # proves the Triton run did not silently fall back to in-process
        model = protocol.MUSIC_MODELS[variant]
        assert served_requests()[model] > before[model]
    assert (got.model_name, got.model_version, got.music_model) == (want.model_name, want.model_version, variant)
    assert notes(got.midi) == notes(want.midi)
    assert (got.cut_chords, got.tempo_map, got.chord_markers_s) == (want.cut_chords, want.tempo_map,
                                                                    want.chord_markers_s)


def test_analyze_emotion_same_with_triton(both_settings, clip_with_cuts):
    from flows.soundtrack import analyze_emotion

    local, remote = both_settings
    cuts, duration = [3.0, 6.0], 9.0
    want = analyze_emotion(clip_with_cuts, cuts, duration, local)
    before = served_requests()
    got = analyze_emotion(clip_with_cuts, cuts, duration, remote)
    if METRICS_URL:
        assert served_requests()[protocol.EMOTION_MODEL] > before[protocol.EMOTION_MODEL]
    assert_close(got, want)


def assert_close(got: object, want: object, where: str = "emotion") -> None:
    """Equal structure and values; floats within 1e-6 (fusion runs in float32 on both sides)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-6), where
    else:
        assert got == want, where
