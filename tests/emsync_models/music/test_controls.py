"""The user's style and palette: names resolve to GM programs, unknown names are refused with the choices."""

from __future__ import annotations

import pytest

from emsync_models.errors import InputError
from emsync_models.music.controls import (
    STYLE_DESCRIPTIONS,
    STYLE_FAMILIES,
    Palette,
    canonical_spec,
    check_style,
    nearest_program,
    palette_from_params,
    parse_palette,
)
from emsync_models.music.v2.model import MusicV2Config


def test_every_style_family_is_described_and_is_the_models() -> None:
    assert set(STYLE_DESCRIPTIONS) == set(STYLE_FAMILIES)
    assert MusicV2Config(vocab_size=8).n_styles == len(STYLE_FAMILIES)
    assert check_style("Jazz") == "jazz" and check_style(None) is None and check_style("auto") is None


def test_an_unknown_style_names_itself_and_the_choices() -> None:
    with pytest.raises(InputError) as caught:
        check_style("dubstep")
    assert "dubstep" in str(caught.value) and "ballad" in str(caught.value) and "march" in str(caught.value)


def test_families_and_names_resolve_to_gm_programs() -> None:
    palette = parse_palette("piano, strings")
    assert palette.programs == (0, 1, 2, 3, 4, 5, 6, 7, 40, 41, 42, 43, 44, 45, 48, 49, 50, 51)
    assert palette.drums is False  # a palette that names instruments holds drums only when named
    assert parse_palette("Cello,flute,drums") == Palette((42, 73), True)
    assert parse_palette("brass").programs == tuple(range(56, 64))
    assert parse_palette("no drums") == Palette(None, False)
    assert parse_palette(None, no_drums=True) == Palette(None, False)
    assert parse_palette("piano,drums", no_drums=True).drums is False
    assert parse_palette(None).free and parse_palette("auto").free


def test_an_unknown_instrument_names_itself_and_the_choices() -> None:
    with pytest.raises(InputError) as caught:
        parse_palette("piano,kazoo")
    message = str(caught.value)
    assert "kazoo" in message and "strings" in message and "no drums" in message and "\n" not in message


def test_a_palette_survives_params_and_text() -> None:
    palette = parse_palette("cello,choir")
    assert palette_from_params(palette.to_params()) == palette
    assert parse_palette(canonical_spec(palette)) == palette
    assert Palette().to_params() is None and canonical_spec(Palette()) is None
    assert parse_palette(canonical_spec(Palette(None, False))) == Palette(None, False)


def test_words_name_the_families_and_the_drums() -> None:
    assert parse_palette("piano,strings").describe() == "strings, piano; no drums"
    assert parse_palette("cello,drums").describe() == "Cello; drums"
    assert Palette(None, False).describe() == "any instrument, no drums"


def test_the_nearest_in_palette_instrument_prefers_family_then_role_then_what_plays() -> None:
    strings = parse_palette("strings").programs
    assert strings is not None
    assert nearest_program(32, strings, prefer=(42, 43)) == 42  # a bass line goes to the cello
    assert nearest_program(41, (0, 40, 42)) == 40  # same family first
    assert nearest_program(48, (0, 5, 7), playing=(0,)) == 0  # the piano that plays, not clavinet 7
