"""The picture beside `emsync eval music-v2`'s table: each piece's pulse clarity against what its tempo
map alone scores (a click on every beat of that map), whole piece and in 8 s windows, with the corpus's
median, the issue's target, as a line. A steadier rhythm raises a point toward the diagonal (off-beats
can take it a little past); only a steadier map moves it right."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from emsync_models.music.eval.compare import PULSE_POINT_KEYS  # noqa: E402

_COLOURS = {"v1": "#1f77b4", "v2": "#d62728", "corpus": "#444444"}
_PANELS = (("whole piece", "pulse_clarity", "map_pulse_clarity", "pulse_clarity_median"),
           ("8 s windows (mean per piece)", "local_pulse_clarity", "map_local_pulse_clarity",
            "local_pulse_clarity_median"))


def pulse_map_figure(result: dict, out: Path) -> Path:
    """Scatter per side of `result` (the eval's JSON) that has `pulse_points`; returns `out`."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    for ax, (title, pulse_key, map_key, median_key) in zip(axes, _PANELS, strict=True):
        i, j = PULSE_POINT_KEYS.index(pulse_key), PULSE_POINT_KEYS.index(map_key)
        for side, data in result.items():
            points = data.get("pulse_points") if isinstance(data, dict) else None
            if not points:
                continue
            ax.scatter([p[j] for p in points], [p[i] for p in points], s=14, alpha=0.6,
                       color=_COLOURS.get(side, "#2ca02c"),
                       label=f"{side} (median {data.get(median_key, float('nan')):.3f})")
        target = result.get("corpus", {}).get(median_key)
        if target is not None:
            ax.axhline(target, color="#444444", ls="--", lw=1, label=f"target: corpus median {target:.3f}")
        ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls=":", label="notes score as the click")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("a click on every beat of the piece's tempo map")
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("pulse clarity of the piece's notes")
    fig.suptitle("pulse clarity of each piece's notes against a click on every beat of its tempo map")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
