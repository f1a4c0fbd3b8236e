"""Counts, shares and label distributions of a v2 corpus manifest (for the datasheet and benchmarks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emsync_models.music.corpus.layout import PieceRow


def _shares(counter: Counter, total: int) -> dict[str, float]:
    return {str(k): round(v / total, 4) for k, v in counter.most_common()}


def summarise(rows: Sequence[PieceRow]) -> dict:
    """Counts and shares over the ok pieces (failed rows are only counted)."""
    ok = [r for r in rows if r.status == "ok"]
    n = max(len(ok), 1)
    tokens_by_family: Counter = Counter()
    for r in ok:
        tokens_by_family[r.groove_family] += r.token_count
    durations = np.array([r.duration_s for r in ok]) if ok else np.zeros(1)
    return {
        "pieces": len(rows),
        "ok": len(ok),
        "failed": len(rows) - len(ok),
        "failure_reasons": dict(Counter(r.reason.split(":")[0] for r in rows if r.status != "ok").most_common(10)),
        "tokens": int(sum(r.token_count for r in ok)),
        "hours": round(float(durations.sum()) / 3600, 2),
        "duration_s_percentiles_5_50_95": [round(float(x), 1) for x in np.percentile(durations, [5, 50, 95])],
        "groove_families": len({r.groove_family for r in ok if r.source == "mma"}),
        "grooves": len({r.groove for r in ok if r.source == "mma"}),
        "source_share": _shares(Counter(r.source for r in ok), n),
        "progression_source_share": _shares(Counter(_progression_source(r) for r in ok), n),
        "source_items": len({r.source_item for r in ok}),
        "split_share": _shares(Counter(r.split for r in ok), n),
        "mode_share": _shares(Counter(r.mode for r in ok), n),
        "meter_share": _shares(Counter(r.time_signature for r in ok), n),
        "melody_share": round(sum(r.has_melody for r in ok) / n, 4),
        "family_share_top15": dict(list(_shares(Counter(r.groove_family for r in ok), n).items())[:15]),
        "tokens_per_family_top15": dict(tokens_by_family.most_common(15)),
        "valence_mean_sd": [round(float(np.mean([r.valence for r in ok] or [0])), 3),
                            round(float(np.std([r.valence for r in ok] or [0])), 3)],
        "arousal_mean_sd": [round(float(np.mean([r.arousal for r in ok] or [0])), 3),
                            round(float(np.std([r.arousal for r in ok] or [0])), 3)],
    }


def _progression_source(row: PieceRow) -> str:
    head = row.source_item.split("/")[0]
    if row.source_item.endswith(".rntxt"):
        return "romantext"
    return {"bach": "chorale", "essenFolksong": "folk", "ryansMammoth": "folk"}.get(head, head)


def plot_distributions(rows: Sequence[PieceRow], path: Path) -> None:
    """Histograms of valence, arousal, tempo and duration, and the groove-family shares, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.status == "ok"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    panels = (("valence (proxy)", [r.valence for r in ok]), ("arousal (proxy)", [r.arousal for r in ok]),
              ("opening tempo (BPM)", [r.tempo_bpm for r in ok]), ("duration (s)", [r.duration_s for r in ok]),
              ("tokens per piece", [r.token_count for r in ok]))
    for ax, (title, values) in zip(axes.flat, panels, strict=False):
        ax.hist(values, bins=40, color="#4a7ab5")
        ax.set_title(title)
    families = Counter(r.groove_family for r in ok).most_common()
    ax = axes.flat[5]
    ax.bar(range(len(families)), [c / len(ok) for _, c in families], color="#b5804a")
    ax.set_title(f"groove family shares ({len(families)} families)")
    ax.set_xlabel("family rank")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
