"""Serving failures, kept apart from `emsync_models.errors.InputError` (bad input, never retried).

Both are infrastructure errors: a flow may retry them, and records them as the stage's failure.
"""

from __future__ import annotations


class ServingError(RuntimeError):
    """The model server answered, but with an error (a failed or rejected inference)."""


class ServingUnavailable(ServingError):
    """The model server could not be reached, or its models were not ready, after bounded retries."""
