"""The wire carries the style and palette, and leaves them out at their defaults (the request is as before)."""

from __future__ import annotations

import pytest

from emsync_models.errors import InputError
from emsync_models.music.request import GenerationRequest, reject_controls, validate_request
from serving import protocol

BASE = {"duration_s": 8.0, "boundaries_s": (2.0, 5.0), "emotion": ((0.0, 0.1, 0.2),), "seed": 4}


def test_controls_round_trip_over_the_wire() -> None:
    request = GenerationRequest(**BASE, style="latin", instruments=(0, 42), drums=False)
    params = protocol.GenerationParams.from_request(request, default_top_p=0.8)
    tensors = params.to_tensors()
    assert {protocol.STYLE, protocol.INSTRUMENTS, protocol.DRUMS} <= set(tensors)
    back = protocol.GenerationParams.from_tensors(tensors)
    assert back == params
    assert (back.style, back.instruments, back.drums) == ("latin", (0, 42), False)


def test_defaults_send_the_same_tensors_as_before() -> None:
    tensors = protocol.GenerationParams.from_request(GenerationRequest(**BASE), default_top_p=0.8).to_tensors()
    assert set(tensors) == {protocol.DURATION_S, protocol.EMOTION, protocol.SEED, protocol.TEMPERATURE,
                            protocol.TOP_P, protocol.BOUNDARIES_S}


def test_v1_refuses_controls_and_bad_values_are_named() -> None:
    with pytest.raises(InputError, match="no style or instrument control"):
        reject_controls(GenerationRequest(**BASE, drums=False), "v1")
    reject_controls(GenerationRequest(**BASE), "v1")  # no controls: nothing to refuse
    with pytest.raises(InputError, match="style"):
        validate_request(GenerationRequest(**BASE, style="dubstep"))
    with pytest.raises(InputError, match="instruments"):
        validate_request(GenerationRequest(**BASE, instruments=(0, 128)))
