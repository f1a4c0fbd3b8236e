"""Word evidence from the NRC lexicon (with negation), VADER and MiniLM prototypes."""

from __future__ import annotations

import numpy as np
import pytest

from emsync_models.emotion.extractors.text import WordFeatures, merge_spans
from emsync_models.emotion.labels import EKMAN6
from emsync_models.emotion.words import EVIDENCE_DIM, nrc_counts, nrc_lexicon, vader_valence, word_evidence


def top(probs: np.ndarray) -> str:
    return EKMAN6[int(np.argmax(probs))]


def test_lexicon_is_read_from_nrclex_data():
    lexicon = nrc_lexicon()
    assert len(lexicon) > 6000 and "anger" in lexicon["furious"] and "joy" in lexicon["happy"]


def test_nrc_counts_with_negation():
    counts, cues = nrc_counts("I am furious, this is a horrible disaster")
    assert top(counts) == "anger" and ("furious", "anger") in cues
    counts, cues = nrc_counts("I am not happy")
    assert counts[EKMAN6.index("joy")] == 0 and counts[EKMAN6.index("sadness")] > 0
    assert ("not happy", "sadness") in cues
    # Negation reaches three tokens: "never really that happy" flips, "happy" five tokens on does not.
    counts, _ = nrc_counts("never really that happy")
    assert counts[EKMAN6.index("joy")] == 0
    counts, _ = nrc_counts("not a word about it, happy")
    assert counts[EKMAN6.index("joy")] == 1


def test_inflections_reach_the_lexicon():
    _, cues = nrc_counts("she cried and worried")
    assert [w for w, _ in cues][:1] == ["cried"]


def test_vader_valence_sign_and_negation():
    assert vader_valence("What a wonderful day") > 0.5
    assert vader_valence("This is a terrible disaster") < -0.5
    assert vader_valence("This is not good") < 0


def test_empty_or_neutral_text_has_no_strength():
    assert word_evidence("").strength == 0.0
    neutral = word_evidence("the table is next to the window")
    assert neutral.strength < 0.1 and np.allclose(neutral.probs, 1 / 6)


@pytest.fixture(scope="module")
def words():
    return WordFeatures()


@pytest.mark.parametrize("text, expected", [
    ("I hate this, I am furious", "anger"),
    ("I am terrified, something is out there", "fear"),          # "terrified" is not in NRC
    ("This is the best day of my life", "joy"),
    ("We are grieving, she is gone forever", "sadness"),
    ("That rotten smell is disgusting", "disgust"),
])
def test_combined_evidence_names_the_emotion(words, text, expected):
    row = words.rows([text])[text]
    assert row.shape == (EVIDENCE_DIM + 384,)
    assert top(row[:6]) == expected, dict(zip(EKMAN6, row[:6].round(2), strict=True))
    assert row[7] > 0.5
    assert np.linalg.norm(row[EVIDENCE_DIM:]) == pytest.approx(1.0, abs=1e-3)


def test_merge_spans():
    spans = merge_spans([0.0, 1.0, 2.0, 3.0, 4.0], ["A", "A", "", "B", "B"], 1.0)
    assert spans == [(0.0, 1.5, "A"), (2.5, 4.5, "B")]
