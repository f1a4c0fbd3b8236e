"""Stems against the mix on real v2 pieces: how closely the exported stems add up to music.wav.

    .venv/bin/python -m benchmarks.stems [--seeds 1 2 3] [--out benchmarks/results/stems.json]

For each seed, the real job (v2, fixed valence/arousal per seed so the pieces differ in ensemble and
tempo too) scores a 12 s clip with three cuts and exports; the residual is RMS(sum of stems - mix) /
RMS(mix) in dB (target below -60 dB). For the cause, the same piece's whole MIDI rendered once by
FluidSynth is compared with the sum of its tracks rendered one by one, before any gain: the mix used to
be that single render, which FluidSynth does not make additive over tracks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
MOODS = {1: (0.3, 0.2), 2: (-0.6, -0.4), 3: (0.7, 0.8), 4: (-0.2, 0.6)}


def residual_db(total: np.ndarray, mix: np.ndarray) -> float:
    return round(float(20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2)))), 2)


def make_clip(path: Path, seconds: float = 12.0) -> None:
    parts = "".join(f"color=c={c}:s=320x180:r=25:d={seconds / 4:g}[v{i}];"
                    for i, c in enumerate(("navy", "darkgreen", "maroon", "gray")))
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-filter_complex",
                    parts + "[v0][v1][v2][v3]concat=n=4:v=1:a=0[v]", "-map", "[v]", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(path)], check=True)


def single_render_residual(midi_path: Path, duration_s: float, work: Path) -> float:
    """The old way's error: the whole MIDI rendered once against the sum of its tracks' renders (raw)."""
    from emsync_models.render.audio import fit_length, synthesize_midi
    from emsync_models.render.stems import stem_midis
    from flows.settings import get_settings

    font = get_settings().music.resolved_soundfont()
    assert font is not None
    folder = work / "raw-stems"
    folder.mkdir(exist_ok=True)
    frames = round(duration_s * 44100)
    whole = fit_length(synthesize_midi(midi_path, font, duration_s=duration_s)[0], frames)
    parts = [fit_length(synthesize_midi(p, font, duration_s=duration_s)[0], frames)
             for _, p in stem_midis(pretty_midi.PrettyMIDI(str(midi_path)), folder)]
    return residual_db(np.sum(parts, axis=0), whole)


def measure(seed: int, clip: Path, work: Path) -> dict[str, Any]:
    from flows.settings import get_settings
    from flows.soundtrack import SoundtrackOptions, run_soundtrack

    valence, arousal = MOODS.get(seed, (0.0, 0.0))
    export = work / f"export{seed}"
    report = run_soundtrack(clip, work / f"o{seed}.mp4", get_settings(),
                            SoundtrackOptions(seed=seed, valence=valence, arousal=arousal, export=export,
                                              recompute=True)).report
    files = report["files"]["export"]
    mix, rate = sf.read(files["audio"], dtype="float64")
    total = sum(sf.read(p, dtype="float64")[0] for p in files["stems"].values())
    midi = pretty_midi.PrettyMIDI(files["midi"])
    return {"seed": seed, "valence": valence, "arousal": arousal, "music_model": report["music"]["model"],
            "stems": sorted(files["stems"]), "tempo_changes": len(midi.get_tempo_changes()[0]),
            "residual_db": residual_db(total, mix),
            "single_render_vs_sum_of_tracks_raw_db": single_render_residual(Path(files["midi"]),
                                                                            report["input"]["duration_s"], work)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "stems.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["EMSYNC_DATA_DIR"] = str(work / "data")
        os.environ.pop("EMSYNC_DATABASE_URL", None)
        from flows.runtime import apply_thread_budget
        from flows.settings import get_settings

        get_settings.cache_clear()
        apply_thread_budget(get_settings())
        clip = work / "clip.mp4"
        make_clip(clip)
        pieces = [measure(seed, clip, work) for seed in args.seeds]
    result = {"what": "RMS(sum of exported stems - music.wav) / RMS(music.wav), real v2 pieces on a 12 s clip",
              "target_db": -60.0, "soundfont": str(get_settings().music.resolved_soundfont()),
              "worst_residual_db": max(p["residual_db"] for p in pieces), "pieces": pieces}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for p in pieces:
        print(f"seed {p['seed']}: {len(p['stems'])} stems, residual {p['residual_db']} dB "
              f"(one render of the whole MIDI vs its tracks: {p['single_render_vs_sum_of_tracks_raw_db']} dB)")


if __name__ == "__main__":
    main()
