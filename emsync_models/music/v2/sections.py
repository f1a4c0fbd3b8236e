"""Token streams of a piece written section by section: split, cut into bars, moved to another key.

A long piece is decoded one section at a time, each in its own key's C and opening with BOS; the next
section's context opens with the last bars of the one before (moved into its key) or with the theme it
restates, so the model continues music it has heard instead of starting cold.
"""

from __future__ import annotations

from collections.abc import Sequence

from emsync_models.music.v2.remi import BeatTokenizer, chord_token, parse_chord_token

LOWEST, HIGHEST = 21, 108  # the tokenizer's pitch range


def split_sections(tok: BeatTokenizer, ids: Sequence[int]) -> list[list[int]]:
    """The sections of a piece's token stream: each opens with BOS."""
    out: list[list[int]] = []
    for i in ids:
        if i == tok.bos or not out:
            out.append([])
        out[-1].append(int(i))
    return out


def bars_of(tok: BeatTokenizer, ids: Sequence[int], lo: int, hi: int) -> tuple[int, ...]:
    """The tokens of bars lo..hi-1 (from their Bar tokens), specials dropped."""
    out: list[int] = []
    bar = -1
    for i in ids:
        if i == tok.bar:
            bar += 1
        if lo <= bar < hi and i not in (tok.bos, tok.eos, tok.pad):
            out.append(int(i))
    return tuple(out)


def transpose_tokens(tok: BeatTokenizer, ids: Sequence[int], semitones: int) -> tuple[int, ...]:
    """Pitched notes and chord roots moved by `semitones` (an octave back where one would leave the
    range); drums, positions and the rest unchanged."""
    if semitones == 0:
        return tuple(ids)
    out = []
    for i in ids:
        name = tok.names[i]
        if tok.kind[i] == "Pitch":
            p = int(name.split("_")[1]) + semitones
            p = p - 12 if p > HIGHEST else p + 12 if p < LOWEST else p
            out.append(tok.vocab[f"Pitch_{p}"])
        elif tok.kind[i] == "Chord" and name != "Chord_N":
            root, quality = parse_chord_token(name)
            out.append(tok.vocab[chord_token(root + semitones, quality)])
        else:
            out.append(int(i))
    return tuple(out)
