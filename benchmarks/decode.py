"""Decodes per video, before and after: three decodes (full-decode probe, PySceneDetect at full size,
the emotion sampler) against one (header probe + `SinglePass`), on the same file; cut times compared.

    python -m benchmarks.decode [--seconds 300] [--size 640x360] [--video PATH]

The "before" column re-creates the three passes the job used to make, with the same libraries and
settings (probe: decode every frame; cuts: `SceneManager` + `open_video(backend="pyav")`; emotion:
`stream_media` at 1 fps, 640 px, with audio); "after" is what the job runs now. Both times are without
the emotion extractors' own work (identical in both), so the difference is what the extra decodes cost.
Wall and CPU seconds are printed with the load average: on a shared machine CPU time is the steadier.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import av
from scenedetect import ContentDetector, SceneManager, open_video
from scenedetect.detectors import content_detector

from emsync_models.emotion.sampling import stream_media
from emsync_models.video.cuts import LIBRARY_MEAN_PIXEL_DISTANCE, mean_pixel_distance
from emsync_models.video.probe import probe_video
from emsync_models.video.sample import SCENES, build_sample_video
from emsync_models.video.single_pass import SinglePass


def timed(fn):  # noqa: ANN001, ANN201 - a tiny helper for a script
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
                 "load1": round(load, 1)}


def old_probe(path: Path) -> int:
    """The old probe's cost: every frame decoded to check the stream."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def old_cuts(path: Path, fps: float) -> list[float]:
    manager = SceneManager()
    manager.add_detector(ContentDetector(threshold=27.0, min_scene_len=max(1, round(0.5 * fps))))
    # The library as it was, before `emsync_models.video.cuts` gave it a faster pixel distance.
    content_detector._mean_pixel_distance = LIBRARY_MEAN_PIXEL_DISTANCE
    try:
        manager.detect_scenes(video=open_video(str(path), backend="pyav"), show_progress=False)
    finally:
        content_detector._mean_pixel_distance = mean_pixel_distance
    return [round(s.seconds, 6) for s, _ in manager.get_scene_list(start_in_scene=True)[1:]]


def old_emotion_decode(path: Path) -> int:
    return sum(1 for _ in stream_media(path, 1.0, 640, audio=True, frames=True))


def long_video(seconds: float, width: int, height: int, folder: Path) -> Path:
    path = folder / f"long-{seconds:g}s-{width}x{height}.mp4"
    if not path.is_file():
        # The four photos again and again, scenes of 4-12 s: many cuts, real picture content.
        lengths = [4.0, 7.5, 12.0, 5.5, 9.0, 6.0, 10.5, 8.0]
        scenes, total, i = [], 0.0, 0
        while total < seconds:
            length = min(lengths[i % len(lengths)], seconds - total)
            scenes.append((SCENES[i % len(SCENES)][0], length))
            total += length
            i += 1
        build_sample_video(path, width=width, height=height, scenes=tuple(scenes))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="the single pass's thread budget (decoder threads: single_pass.decoder_threads)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    video = args.video or long_video(args.seconds, width, height, Path(tempfile.gettempdir()))
    probe, t_probe_new = timed(lambda: probe_video(video))
    frames_old, t_probe_old = timed(lambda: old_probe(video))
    cuts_old, t_cuts_old = timed(lambda: old_cuts(video, probe.fps))
    _, t_emotion_old = timed(lambda: old_emotion_decode(video))
    one = SinglePass(video, sample_hz=1.0, max_side=640, audio=True, threads=args.threads,
                     expected_duration_s=probe.duration_s)
    _, t_pass = timed(lambda: sum(1 for _ in one))
    before = {k: round(t_probe_old[k] + t_cuts_old[k] + t_emotion_old[k], 2) for k in ("wall_s", "cpu_s")}
    after = {k: round(t_probe_new[k] + t_pass[k], 2) for k in ("wall_s", "cpu_s")}
    cuts_new = one.cuts_s or []
    worst = max((abs(a - b) for a, b in zip(cuts_old, cuts_new, strict=False)), default=0.0)
    print(f"{video.name}: {probe.duration_s:.0f} s, {probe.width}x{probe.height} @ {probe.fps:g} fps")
    print(f"{'pass':<34} {'wall s':>7} {'cpu s':>7} {'load':>5}")
    for label, t in (("before: probe (decode every frame)", t_probe_old), ("before: PySceneDetect", t_cuts_old),
                     ("before: emotion sampler", t_emotion_old), ("after: probe (headers)", t_probe_new),
                     ("after: single pass", t_pass)):
        print(f"{label:<34} {t['wall_s']:>7.2f} {t['cpu_s']:>7.2f} {t['load1']:>5.1f}")
    print(f"{'before total':<34} {before['wall_s']:>7.2f} {before['cpu_s']:>7.2f}")
    print(f"{'after total':<34} {after['wall_s']:>7.2f} {after['cpu_s']:>7.2f}")
    print(f"frames: {frames_old} decoded before, {one.frames} after; cuts: {len(cuts_old)} before, "
          f"{len(cuts_new)} after, largest difference {worst * probe.fps:.2f} frames")
    print(json.dumps({"video": str(video), "before": before, "after": after, "cuts_before": cuts_old,
                      "cuts_after": cuts_new, "max_cut_diff_frames": worst * probe.fps}))
    return 0 if len(cuts_old) == len(cuts_new) and worst * probe.fps <= 1.0 + 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
