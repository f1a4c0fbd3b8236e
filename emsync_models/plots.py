"""Pictures of a soundtrack: the emotion timeline with the cuts, and a piano roll with chord changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers or CI
import matplotlib.pyplot as plt  # noqa: E402
import pretty_midi  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

# Ten tracks before a colour repeats (v2 writes up to six of the model's and a comp); no orange or grey,
# which mark chord changes and cuts.
_FAMILY_COLOURS = ("#444444", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                   "#17becf", "#0b3d91")


def _short(line: str, limit: int = 38) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def soundtrack_figure(emotion: dict[str, Any], cuts_s: Sequence[float], duration_s: float,
                      midi: pretty_midi.PrettyMIDI, chord_changes_s: Sequence[float], out: Path,
                      harmony_changes_s: Sequence[float] = (), merged_cuts_s: Sequence[float] = (),
                      min_gap_s: float | None = None, plan: dict[str, Any] | None = None) -> Path:
    """Two aligned panels: per-scene valence/arousal over time, and the generated notes.

    Cuts are dashed grey lines on both, the model's chord changes orange lines on the roll (and the
    changes analysed from the notes, when given, dotted purple), so a glance shows whether the music
    turns where the picture does. `merged_cuts_s` are cuts the music did not aim at (closer than
    `min_gap_s` to the previous kept cut): thin dotted lines marked "merged", so none is missed silently.
    With a `plan` (v2), its sections are bands along the top panel,
    each labelled with its key, tempo and theme (a returning theme marked with its return).
    """
    fig, (top, roll) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    for scene in emotion["scenes"]:
        span = (scene["start_s"], scene["end_s"])
        top.plot(span, [scene["valence"]] * 2, color="#1f77b4", lw=3)
        top.plot(span, [scene["arousal"]] * 2, color="#d62728", lw=3)
        probs = scene.get("probs")
        if probs:
            label = max(probs, key=probs.get)
            # Confidence beside the label: a faceless scene's guess should look like a guess.
            top.text(sum(span) / 2, 1.05, f"{label} ({scene.get('confidence', 0.0):.2f})", ha="center",
                     va="bottom", fontsize=9)
        # Why: the strongest modalities' cues, written inside the scene so a reader can check them.
        why = scene.get("why") or []
        if why:
            top.text(span[0] + 0.02 * (span[1] - span[0]), -1.05, "\n".join(_short(line) for line in why[:3]),
                     ha="left", va="bottom", fontsize=6, color="#333333", clip_on=True)
    if plan and plan.get("sections"):
        draw_plan(top, plan["sections"])
    top.plot([], [], color="#1f77b4", lw=3, label="valence")
    top.plot([], [], color="#d62728", lw=3, label="arousal")
    top.set_ylim(-1.1, 1.35)
    top.set_ylabel("emotion")
    top.legend(loc="lower right", fontsize=8)
    for i, inst in enumerate(midi.instruments):
        colour = _FAMILY_COLOURS[i % len(_FAMILY_COLOURS)]
        # one collection per track: a two-hour film has tens of thousands of notes
        roll.add_collection(LineCollection([((n.start, n.pitch), (n.end, n.pitch)) for n in inst.notes],
                                           colors=colour, linewidths=2, capstyle="butt"))
        roll.plot([], [], color=colour, lw=3, label=inst.name or pretty_midi.program_to_instrument_name(inst.program))
    for change in chord_changes_s:
        roll.axvline(change, color="#ff7f0e", lw=1.5, alpha=0.9)
    for change in harmony_changes_s:
        roll.axvline(change, color="#9467bd", lw=1, ls=":", alpha=0.8)
    for ax in (top, roll):
        for cut in cuts_s:
            ax.axvline(cut, color="grey", ls="--", lw=1.5)
        for cut in merged_cuts_s:
            ax.axvline(cut, color="#888888", ls=(0, (1, 2)), lw=1)
    for cut in merged_cuts_s:
        top.text(cut, 1.33, "merged", rotation=90, ha="right", va="top", fontsize=7, color="#555555")
    roll.plot([], [], color="#ff7f0e", label="chord change (model)")
    if len(harmony_changes_s):
        roll.plot([], [], color="#9467bd", ls=":", label="chord change (analysed)")
    roll.plot([], [], color="grey", ls="--", label="scene cut (kept)" if len(merged_cuts_s) else "scene cut")
    if len(merged_cuts_s):
        why = f"< {min_gap_s:g} s after a kept one" if min_gap_s is not None else "no hit point"
        roll.plot([], [], color="#888888", ls=(0, (1, 2)), label=f"scene cut merged ({why})")
    roll.set_xlim(0, duration_s)
    pitches = [n.pitch for inst in midi.instruments for n in inst.notes]
    if pitches:
        roll.set_ylim(min(pitches) - 2, max(pitches) + 2)
    roll.set_xlabel("seconds")
    roll.set_ylabel("MIDI pitch")
    # Below the roll, not on it: inside, it hid the top register's notes.
    roll.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7, ncol=5, frameon=False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


_THEME_COLOURS = ("#fde0dd", "#e0ecf4", "#e5f5e0", "#fff7bc", "#efedf5", "#fee6ce")


def draw_plan(ax: Any, sections: Sequence[dict[str, Any]]) -> None:  # noqa: ANN401 - a matplotlib Axes
    """The plan's sections as bands coloured by theme, labelled key / tempo / theme (and its return)."""
    for s in sections:
        ax.axvspan(s["start_s"], s["end_s"], color=_THEME_COLOURS[s["theme"] % len(_THEME_COLOURS)], alpha=0.6,
                   lw=0, zorder=0)
        ax.axvline(s["start_s"], color="black", lw=1.2, zorder=1)
        turn = f" x{s['restates'] + 1}" if s["restates"] else ""
        ax.text(s["start_s"] + 0.01 * (s["end_s"] - s["start_s"]), 1.3,
                f"{s['key_name']}\n{s['bpm']:.0f} BPM{' drums' if s.get('drums') else ''}\ntheme {s['theme']}{turn}",
                ha="left", va="top", fontsize=6, clip_on=True)
