"""Parity on the real Triton server: same inputs and seed -> same tokens and probabilities as in-process,
for both music models (midi_generator: v1, midi_generator_v2: v2, whose MIDI file must match byte for byte).

Needs a server started by `infra/triton.sh start`; .ci/run exports its URL as EMSYNC_TEST_TRITON_URL
(and EMSYNC_TEST_TRITON_METRICS_URL). The in-process side loads the checkpoints the server's
config.pbtxt names, so a development repository with other weights is compared like for like.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from serving import protocol
from serving.errors import ServingError
from serving.inprocess import InProcessClient
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


@pytest.fixture(scope="module", params=sorted(protocol.MUSIC_MODELS))
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def triton(variant: str) -> TritonHttpClient:
    client = TritonHttpClient(TRITON_URL, timeout_s=300.0, retries=2, music_variant=variant)
    client.wait_ready()
    yield client
    client.close()


@pytest.fixture(scope="module")
def inprocess(triton: TritonHttpClient, variant: str) -> InProcessClient:
    def served_checkpoint(model: str) -> Path | None:
        return resolve_checkpoint(model_parameters(triton._config(model)).get("checkpoint", ""),
                                  MODEL_REPOSITORY / model)

    return InProcessClient(emotion_checkpoint=served_checkpoint(protocol.EMOTION_MODEL),
                           music_checkpoint=served_checkpoint(protocol.MUSIC_MODELS[variant]), music_model=variant)


def fused_batch(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    from emsync_models.emotion.fused_input import CORE_DIMS, STEPS, mask_key

    rng = np.random.default_rng(seed)
    batch = {}
    for modality, dim in CORE_DIMS.items():
        batch[modality] = rng.random((rows, STEPS, dim), dtype=np.float32)
        batch[mask_key(modality)] = rng.random((rows, STEPS)) > 0.3
    batch["face_mask"][:3] = False  # windows with no face at all take the uniform branch
    return batch


def test_same_models_on_both_sides(triton, inprocess):
    assert triton.emotion_model() == inprocess.emotion_model()
    assert triton.music_model() == inprocess.music_model()


def test_served_emotion_inputs_are_the_heads_inputs(triton, inprocess):
    served = {i["name"]: (i["data_type"], tuple(i["dims"])) for i in triton._config(protocol.EMOTION_MODEL)["input"]}
    spec = inprocess._fusion().input_spec()
    assert served == {name: ("TYPE_" + ("FP32" if dtype == "float32" else "BOOL"), shape)
                      for name, dtype, shape in spec}


def test_emotion_probabilities_match(triton, inprocess):
    batch = fused_batch(300)  # above max_batch_size (256): the client must split
    probs_t, va_t = triton.predict_emotion(batch)
    probs_i, va_i = inprocess.predict_emotion(batch)
    assert probs_t.shape == (300, 6) and va_t.shape == (300, 2)
    diff = max(float(np.abs(probs_t - probs_i).max()), float(np.abs(va_t - va_i).max()))
    print(f"emotion parity: max |triton - inprocess| = {diff:.3g}")
    assert diff <= 1e-6


def requests() -> list:
    from emsync_models.music.request import GenerationRequest

    return [
        GenerationRequest(duration_s=10.0, boundaries_s=(1.5, 2.75, 6.0), emotion=((0.0, 0.6, -0.4), (5.0, -0.5, 0.7)),
                          seed=7),
        GenerationRequest(duration_s=6.0, boundaries_s=(), emotion=((0.0, -0.2, 0.1),), seed=123,
                          temperature=0.8, top_p=0.9, top_k=24),
    ]


def test_generation_tokens_and_music_match(triton, inprocess, variant, tmp_path):
    from dataclasses import fields

    from emsync_models.render.midi_file import write_midi

    remote, local = triton.music_generator(), inprocess.music_generator()
    for request in requests():
        got, want = remote.generate(request), local.generate(request)
        print(f"generation parity {variant}: seed {request.seed}: {len(got.tokens)} tokens, "
              f"equal={got.tokens == want.tokens}")
        assert type(got) is type(want)
        assert got.tokens == want.tokens
        # every field of the result (v2: tempo map, per-cut hit points, style) as in-process
        for f in fields(want):
            if f.name != "midi":
                assert getattr(got, f.name) == getattr(want, f.name), f.name
        # the same notes per instrument, in the same order
        notes = [[(n.start, n.end, n.pitch, n.velocity) for n in i.notes] for i in got.midi.instruments]
        assert notes == [[(n.start, n.end, n.pitch, n.velocity) for n in i.notes] for i in want.midi.instruments]
        assert [(i.program, i.is_drum, i.name) for i in got.midi.instruments] == [
            (i.program, i.is_drum, i.name) for i in want.midi.instruments]
        # the file the soundtrack job writes, bit for bit
        a = write_midi(got.midi, tmp_path / f"triton-{request.seed}.mid", request.duration_s).read_bytes()
        b = write_midi(want.midi, tmp_path / f"local-{request.seed}.mid", request.duration_s).read_bytes()
        assert a == b


def test_the_merge_gap_crosses_the_wire(variant, inprocess):
    # EMSYNC_MIN_BOUNDARY_GAP_S reaches the served model: 1 s keeps cuts that 4 s merges, on both sides.
    from emsync_models.music.request import GenerationRequest

    request = GenerationRequest(duration_s=8.0, boundaries_s=(2.0, 3.5, 5.0), emotion=((0.0, 0.2, 0.2),), seed=2)
    local = InProcessClient(music_checkpoint=inprocess.music_checkpoint, music_model=variant, min_gap_s=1.0)
    with TritonHttpClient(TRITON_URL, timeout_s=300.0, retries=2, music_variant=variant, min_gap_s=1.0) as narrow:
        np.testing.assert_array_equal(narrow.generate_tokens(request), local.generate_tokens(request))
        assert not np.array_equal(narrow.generate_tokens(request), inprocess.generate_tokens(request))


def test_concurrent_requests_keep_their_own_results(triton):
    # One client shared by threads (each gets its own connection); instances must not mix state.
    from dataclasses import replace

    base = requests()[1]
    reqs = [replace(base, seed=s, duration_s=2.0) for s in range(4)]
    sequential = [triton.generate_tokens(r) for r in reqs]
    results: list[np.ndarray | None] = [None] * len(reqs)

    def work(i: int) -> None:
        results[i] = triton.generate_tokens(reqs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(reqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, sequential, strict=True):
        np.testing.assert_array_equal(got, want)


def test_bad_input_is_rejected_without_retries(triton):
    from dataclasses import replace

    bad = replace(requests()[1], top_p=0.0)  # validate_request rejects it server-side
    with pytest.raises(ServingError) as info:
        triton.generate_tokens(bad)  # the raw client: no client-side validation
    assert "top_p" in str(info.value) and type(info.value) is ServingError


@pytest.mark.skipif(not METRICS_URL, reason="EMSYNC_TEST_TRITON_METRICS_URL is unset")
def test_metrics_report_queue_and_compute_time(triton, variant):
    triton.generate_tokens(requests()[1])
    metrics = read_metrics(METRICS_URL)[protocol.MUSIC_MODELS[variant]]
    assert metrics["nv_inference_request_success"] >= 1
    assert metrics["emsync_generation_duration_us"] > 0 and metrics["emsync_generated_tokens"] >= 1
    assert "nv_inference_queue_duration_us" in metrics


def test_style_and_palette_cross_the_wire(triton, inprocess, variant):
    # --style/--instruments reach midi_generator_v2 and give the in-process piece; v1 refuses them in one line.
    from emsync_models.errors import InputError
    from emsync_models.music.controls import parse_palette
    from emsync_models.music.request import GenerationRequest

    palette = parse_palette("piano,strings")
    request = GenerationRequest(duration_s=6.0, boundaries_s=(3.0,), emotion=((0.0, 0.3, 0.4),), seed=5,
                                style="latin", instruments=palette.programs, drums=palette.drums)
    if variant == "v1":
        with pytest.raises(InputError, match="no style or instrument control"):
            triton.generate_tokens(request)
        return
    got, want = triton.music_generator().generate(request), inprocess.music_generator().generate(request)
    assert got.tokens == want.tokens and got.midi_file == want.midi_file and got.style == want.style == "latin"
    assert all(palette.allows(i.program, i.is_drum) for i in got.midi.instruments if i.notes)
