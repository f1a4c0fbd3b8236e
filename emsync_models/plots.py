"""Pictures of a soundtrack: the emotion timeline with the cuts, and a piano roll with chord changes."""

from __future__ import annotations

import textwrap
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


# Below this confidence a scene's emotion is a guess (a faceless, silent scene): the picture says
# "unsure" rather than print the argmax of near-uniform probabilities as the scene's emotion.
UNSURE_BELOW = 0.2
# Characters of the cue font across the whole plot width (11 in at 90 dpi, 6 pt): a cue wraps at
# its scene's share of it.
_CUE_CHARS_ACROSS = 175


def scene_label(scene: dict[str, Any]) -> str | None:
    """'joy, confidence 0.62', or 'unsure' under UNSURE_BELOW; None where no classifier ran (user V/A)."""
    probs = scene.get("probs")
    if not probs:
        return None
    confidence = float(scene.get("confidence", 0.0))
    if confidence < UNSURE_BELOW:
        return "unsure"
    return f"{max(probs, key=probs.get)}, confidence {confidence:.2f}"


def wrap_cues(cues: Sequence[str], share: float, max_lines: int = 6) -> str:
    """The cues wrapped to a scene `share` (0..1) of the plot's width, at most `max_lines` lines."""
    width = max(int(share * _CUE_CHARS_ACROSS) - 2, 12)
    lines = [part for cue in cues for part in textwrap.wrap(cue, width)]
    return "\n".join(lines[:max_lines] + (["…"] if len(lines) > max_lines else []))


def note_ticks(low: int, high: int) -> tuple[list[int], list[str]]:
    """Piano-roll ticks with note names ('C4' = MIDI 60): every C, or every other note on a narrow roll."""
    span = high - low
    step_notes = [p for p in range(low, high + 1) if p % 12 == 0] if span >= 18 else list(range(low, high + 1, 2))
    return step_notes, [pretty_midi.note_number_to_name(p) for p in step_notes]


def figure_title(music: dict[str, Any]) -> str:
    """The picture's title from the report's music section: style, ensemble and tempo in words."""
    parts = []
    if music.get("style"):
        parts.append(f"style: {music['style']}" + (" (asked)" if music.get("style_from") == "asked" else ""))
    if music.get("ensemble"):
        parts.append("ensemble: " + ", ".join(music["ensemble"]))
    plan = music.get("plan") or {}
    bpm = plan.get("tempo_range_bpm") or []
    base = (music.get("tempo_map") or {}).get("base_bpm")
    if bpm:
        parts.append(f"tempo {bpm[0]:.0f} BPM" if round(bpm[0]) == round(bpm[-1]) else
                     f"tempo {bpm[0]:.0f}-{bpm[-1]:.0f} BPM")
    elif base:
        parts.append(f"tempo {float(base):.0f} BPM")
    return " · ".join(parts)


def soundtrack_figure(emotion: dict[str, Any], cuts_s: Sequence[float], duration_s: float,
                      midi: pretty_midi.PrettyMIDI, chord_changes_s: Sequence[float], out: Path,
                      harmony_changes_s: Sequence[float] = (), merged_cuts_s: Sequence[float] = (),
                      min_gap_s: float | None = None, plan: dict[str, Any] | None = None,
                      title: str | None = None) -> Path:
    """Two aligned panels: per-scene valence/arousal over time, and the generated notes.

    Cuts are dashed grey lines on both, the model's chord changes orange lines on the roll (and the
    changes analysed from the notes, when given, dotted purple), so a glance shows whether the music
    turns where the picture does. `merged_cuts_s` are cuts the music did not aim at (closer than
    `min_gap_s` to the previous kept cut): thin dotted lines marked "merged", so none is missed silently.
    With a `plan` (v2), its sections are bands along the top panel,
    each labelled with its key, tempo and theme (a returning theme marked with its return). `title`
    (`figure_title`): the style, ensemble and tempo in words.
    """
    fig, (top, roll) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [1.2, 2]})
    if title:
        fig.suptitle(title, fontsize=10)
    for scene in emotion["scenes"]:
        span = (scene["start_s"], scene["end_s"])
        top.plot(span, [scene["valence"]] * 2, color="#1f77b4", lw=3)
        top.plot(span, [scene["arousal"]] * 2, color="#d62728", lw=3)
        label = scene_label(scene)
        if label:
            # a faceless scene's guess reads as a guess ("unsure"), not as the scene's emotion
            top.text(sum(span) / 2, 1.05, label, ha="center", va="bottom", fontsize=8,
                     color="#777777" if label == "unsure" else "black", style="italic" if label == "unsure" else None)
        # Why: the strongest modalities' cues, wrapped inside the scene so a reader can check them.
        why = scene.get("why") or []
        if why:
            share = (span[1] - span[0]) / max(duration_s, 1e-9)
            top.text(span[0] + 0.02 * (span[1] - span[0]), -1.05, wrap_cues(why[:3], share),
                     ha="left", va="bottom", fontsize=6, color="#333333", clip_on=True)
    if plan and plan.get("sections"):
        draw_plan(top, plan["sections"])
    top.plot([], [], color="#1f77b4", lw=3, label="valence")
    top.plot([], [], color="#d62728", lw=3, label="arousal")
    if any(scene_label(scene) == "unsure" for scene in emotion["scenes"]):
        top.plot([], [], " ", label=f"unsure: confidence\nbelow {UNSURE_BELOW:g}")
    top.set_ylim(-1.1, 1.62)
    top.set_yticks([-1.0, -0.5, 0.0, 0.5, 1.0])
    top.set_ylabel("emotion")
    # beside the panel, not on it: inside, it covered the last scene's cues
    top.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    for i, inst in enumerate(midi.instruments):
        colour = _FAMILY_COLOURS[i % len(_FAMILY_COLOURS)]
        # one collection per track: a two-hour film has tens of thousands of notes
        roll.add_collection(LineCollection([((n.start, n.pitch), (n.end, n.pitch)) for n in inst.notes],
                                           colors=colour, linewidths=2, capstyle="butt"))
        roll.plot([], [], color=colour, lw=3, label=_track_label(inst))
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
        top.text(cut, 1.6, "merged", rotation=90, ha="right", va="top", fontsize=7, color="#555555")
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
        ticks, names = note_ticks(min(pitches) - 2, max(pitches) + 2)
        roll.set_yticks(ticks, names)
    roll.set_xlabel("seconds")
    roll.set_ylabel("note")
    # Below the roll, not on it: inside, it hid the top register's notes.
    roll.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7, ncol=5, frameon=False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def _track_label(inst: pretty_midi.Instrument) -> str:
    """A track as a person reads it: the instrument, with the part's role where the track has one
    ('bass: Cello', 'comp: Acoustic Grand Piano')."""
    gm = "Drums" if inst.is_drum else pretty_midi.program_to_instrument_name(inst.program)
    name = (inst.name or "").strip()
    return gm if not name or name.lower() == gm.lower() else f"{name}: {gm}"


_THEME_COLOURS = ("#fde0dd", "#e0ecf4", "#e5f5e0", "#fff7bc", "#efedf5", "#fee6ce")


def draw_plan(ax: Any, sections: Sequence[dict[str, Any]]) -> None:  # noqa: ANN401 - a matplotlib Axes
    """The plan's sections as bands coloured by theme, labelled key / tempo / theme (and its return)."""
    for s in sections:
        ax.axvspan(s["start_s"], s["end_s"], color=_THEME_COLOURS[s["theme"] % len(_THEME_COLOURS)], alpha=0.6,
                   lw=0, zorder=0)
        ax.axvline(s["start_s"], color="black", lw=1.2, zorder=1)
        turn = f" x{s['restates'] + 1}" if s["restates"] else ""
        # one line above the scenes' labels (three lines under them covered a short scene's label)
        drums = " · drums" if s.get("drums") else ""
        ax.text(s["start_s"] + 0.01 * (s["end_s"] - s["start_s"]), 1.58,
                f"{s['key_name']} · {s['bpm']:.0f} BPM{drums} · theme {s['theme']}{turn}",
                ha="left", va="top", fontsize=6, clip_on=True)
