"""Model-card figures for the v2 generator: the loss curve and piano rolls with cuts and chords."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pretty_midi  # noqa: E402


def loss_curve_png(history: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(history["step"], history["train_loss"], label="train (mean since last eval)")
    ax.plot(history["val_step"], history["val_loss"], label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def piano_roll_png(midi: pretty_midi.PrettyMIDI, cuts_s: Sequence[float], chord_times_s: Sequence[float],
                   title: str, path: Path) -> Path:
    """Notes as bars (drums grey), cuts as dashed red lines, the chord tokens' times as green ticks."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for inst in midi.instruments:
        colour = "0.6" if inst.is_drum else None
        for n in inst.notes:
            ax.plot([n.start, n.end], [n.pitch, n.pitch], lw=2.0, color=colour or f"C{inst.program % 10}",
                    solid_capstyle="butt")
    for c in cuts_s:
        ax.axvline(c, color="red", ls="--", lw=1.2)
    for t in chord_times_s:
        ax.axvline(t, color="green", ymax=0.06, lw=2)
    ax.set_xlabel("seconds (dashed red: cuts; green ticks: chord tokens)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


EXAMPLES = (("calm, sad", -0.7, -0.7), ("neutral", 0.0, 0.0), ("happy, excited", 0.7, 0.7))


def write_examples(gen, out_dir: Path, duration_s: float = 20.0,  # noqa: ANN001 - MusicGeneratorV2
                   cuts_s: Sequence[float] = (5.3, 11.9, 16.2)) -> list[dict]:
    """Three example pieces (MIDI + piano-roll PNG) and what was planned/measured for each."""
    from emsync_models.music.request import GenerationRequest

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (label, v, a) in enumerate(EXAMPLES):
        music = gen.generate(GenerationRequest(duration_s, tuple(cuts_s), ((0.0, v, a),), seed=i))
        stem = f"music-v2-example-{i + 1}"
        music.midi.write(str(out_dir / f"{stem}.mid"))
        piano_roll_png(music.midi, cuts_s, music.chord_marker_times_s,
                       f"{label} (V {v:+.1f}, A {a:+.1f}), style {music.style}", out_dir / f"{stem}.png")
        rows.append({"example": stem, "valence": v, "arousal": a, "style": music.style,
                     "cut_chords": music.cut_chords, "tempo_map": music.tempo_map,
                     "analysed_chord_changes_s": [round(t, 3) for t in music.chord_change_times_s]})
    return rows
