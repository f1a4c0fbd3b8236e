"""The renderer's own failure: an environment problem (a missing binary, a bad SoundFont, a full disk)."""

from __future__ import annotations


class RenderError(RuntimeError):
    """The renderer itself failed (missing binary, bad SoundFont): an environment problem."""
