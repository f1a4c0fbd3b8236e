"""Emotion evidence from words (on-screen text and speech transcripts), label-free.

Three published resources, combined:

- the NRC Emotion Lexicon (Mohammad & Turney 2013, "Crowdsourcing a Word-Emotion Association
  Lexicon", Computational Intelligence 29(3)), read from `nrclex`'s `data/nrc_en.json` (the package's
  own code needs TextBlob, which is not installed): each word's Ekman categories, with negation
  ("not happy", "never afraid") handled by flipping the word's polarity for the next few tokens;
- VADER (Hutto & Gilbert 2014, ICWSM), a rule-based valence in [-1, 1] with its own negation,
  intensifier and punctuation rules;
- MiniLM sentence embeddings compared with a few prototype sentences per category, which catches
  wordings the lexicon lacks ("terrified" is not in it).

`word_evidence(text, embedding)` returns Ekman-6 probabilities, a direct valence and a strength in
[0, 1] (how much the words say at all), plus the cue words that carried it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from emsync_models.emotion.labels import EKMAN6

# Layout of the evidence block at the front of every words feature row.
EVIDENCE_DIM = 8   # [0:6] Ekman-6 probabilities, [6] valence (VADER compound), [7] strength

NEGATORS = frozenset({"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without",
                      "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent",
                      "wont", "wouldnt", "couldnt", "shouldnt", "aint", "hardly"})
NEGATION_SPAN = 3   # tokens after a negator whose polarity flips (a common window in sentiment work)
# A negated emotion word is read as its opposite pole: "not happy" is sad, "not afraid" is calm joy.
NEGATED = {"joy": "sadness", "surprise": None, "anger": "joy", "disgust": "joy", "fear": "joy",
           "sadness": "joy"}
NEGATED_WEIGHT = 0.5  # flipped words are weaker evidence than stated ones

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "anger": ("I am furious and I hate this.", "This makes me so angry, get out!",
              "They betrayed us and I am enraged."),
    "disgust": ("That is disgusting and revolting.", "It smells rotten, it makes me sick.",
                "What a gross, filthy, vile mess."),
    "fear": ("I am terrified, something is out there.", "Run, we are in terrible danger!",
             "I am scared and afraid of what comes next."),
    "joy": ("This is the best day of my life, I am so happy!", "We won, what a wonderful celebration.",
            "I love you, this is beautiful and fun."),
    "sadness": ("I miss her so much, I am heartbroken.", "We are grieving, everything is lost.",
                "I feel lonely and sad and I want to cry."),
    "surprise": ("Wow, I did not expect that at all!", "What a shock, I can't believe it!",
                 "Suddenly, out of nowhere, an amazing surprise."),
}
PROTOTYPE_TEMPERATURE = 0.05
# Cosine similarity to the closest category prototype that starts to count as emotional wording;
# MiniLM gives 0.1-0.3 between unrelated sentences.
PROTOTYPE_FLOOR, PROTOTYPE_FULL = 0.30, 0.60

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


@lru_cache(maxsize=1)
def nrc_lexicon() -> dict[str, frozenset[str]]:
    spec = importlib.util.find_spec("nrclex")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nrclex is not installed (it ships the NRC Emotion Lexicon)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "nrc_en.json"
    with open(path, encoding="utf-8") as f:
        return {word: frozenset(tags) for word, tags in json.load(f).items()}


@lru_cache(maxsize=1)
def _vader() -> object:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_valence(text: str) -> float:
    return float(_vader().polarity_scores(text)["compound"])  # type: ignore[attr-defined]


def tokens(text: str) -> list[str]:
    return [t.replace("'", "") for t in _TOKEN.findall(text.lower())]


def _lookup(word: str, lexicon: dict[str, frozenset[str]]) -> frozenset[str]:
    """The word's NRC tags, trying a few inflections the lexicon lists under the base form."""
    if word in lexicon:
        return lexicon[word]
    for suffix, repl in (("ied", "y"), ("ies", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                         ("es", ""), ("s", ""), ("ly", ""), ("ness", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            base = word[: -len(suffix)] + repl
            if base in lexicon:
                return lexicon[base]
    return frozenset()


def nrc_counts(text: str) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """(Ekman-6 evidence counts, [(cue word, category)]) with negation flipping."""
    lexicon = nrc_lexicon()
    counts = np.zeros(len(EKMAN6), np.float64)
    cues: list[tuple[str, str]] = []
    negated_for = 0
    for tok in tokens(text):
        if tok in NEGATORS:
            negated_for = NEGATION_SPAN
            continue
        tags = _lookup(tok, lexicon)
        for k, category in enumerate(EKMAN6):
            if category not in tags:
                continue
            if negated_for:
                flipped = NEGATED[category]
                if flipped is not None:
                    counts[EKMAN6.index(flipped)] += NEGATED_WEIGHT
                    cues.append((f"not {tok}", flipped))
            else:
                counts[k] += 1.0
                cues.append((tok, category))
        negated_for = max(0, negated_for - 1)
    return counts, cues


class PrototypeScorer:
    """Cosine similarity of a sentence embedding to each category's mean prototype embedding."""

    def __init__(self, encoder: object) -> None:
        rows = []
        for category in EKMAN6:
            emb = np.asarray(encoder(list(PROTOTYPES[category])), np.float64)  # type: ignore[operator]
            mean = emb.mean(0)
            rows.append(mean / max(np.linalg.norm(mean), 1e-9))
        self.centroids = np.stack(rows)

    def similarities(self, embedding: np.ndarray) -> np.ndarray:
        e = np.asarray(embedding, np.float64)
        return self.centroids @ (e / max(np.linalg.norm(e), 1e-9))


@dataclass
class WordEvidence:
    probs: np.ndarray            # float [6] Ekman-6, uniform when the words say nothing
    valence: float               # VADER compound in [-1, 1]
    strength: float              # [0, 1]
    cues: list[str] = field(default_factory=list)

    def vector(self) -> np.ndarray:
        return np.concatenate([self.probs, [self.valence, self.strength]]).astype(np.float32)


def word_evidence(text: str, similarities: np.ndarray | None = None) -> WordEvidence:
    """Evidence from `text`; `similarities` are its prototype cosine similarities (PrototypeScorer)."""
    uniform = np.full(len(EKMAN6), 1.0 / len(EKMAN6))
    if not text.strip():
        return WordEvidence(uniform, 0.0, 0.0)
    counts, cues = nrc_counts(text)
    valence = vader_valence(text)
    parts, weights = [], []
    if counts.sum() > 0:
        parts.append(counts / counts.sum())
        weights.append(min(1.0, counts.sum() / 2.0))   # two emotion words in a line is a clear signal
    proto_strength = 0.0
    if similarities is not None:
        sims = np.asarray(similarities, np.float64)
        proto_strength = float(np.clip((sims.max() - PROTOTYPE_FLOOR) / (PROTOTYPE_FULL - PROTOTYPE_FLOOR), 0, 1))
        if proto_strength > 0:
            z = np.exp((sims - sims.max()) / PROTOTYPE_TEMPERATURE)
            parts.append(z / z.sum())
            weights.append(proto_strength)
    if parts:
        w = np.asarray(weights)
        probs = (w[:, None] * np.stack(parts)).sum(0) / w.sum()
        # Evidence never claims certainty: a tenth of the mass stays spread evenly.
        probs = 0.9 * probs + 0.1 * uniform
    else:
        probs = uniform
    strength = float(np.clip(max([abs(valence), *weights]), 0.0, 1.0))
    seen: list[str] = []
    for word, _ in cues:
        if word not in seen:
            seen.append(word)
    return WordEvidence(probs, valence, strength, seen[:6])
