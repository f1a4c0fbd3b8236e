"""Label sets the emotion package speaks. Kept apart so low-level modules need not import the API."""

from __future__ import annotations

EKMAN6: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise")

# Output order of the FER2013 mini-Xception shipped in the `fer` package (FER2013's label ids 0..6).
FER7: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# FER7 index -> EKMAN6 index, for the six shared categories; neutral (index 6) has no Ekman twin.
FER7_TO_EKMAN6: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
FER_NEUTRAL: int = 6

# The label-free default head's identity (`predictor.FusionPredictor.default`): here, torch-free, so that a
# job's identity can be named without loading a model.
DEFAULT_HEAD_NAME = "default-evidence"
DEFAULT_HEAD_VERSION = "default-evidence/v2"
