"""Seconds of extraction per minute of 720p video, per extractor, at default settings.

    python benchmarks/emotion.py [--seconds 60] [--video PATH] [--no-text] [--no-speech]

Builds a 1280x720 H.264 video (scenes of scikit-image photos with a slow zoom, some captioned, with
Festival narration over quiet drums, so speech recognition has work) unless --video is given, runs
the default extractors in one pass (faces, colour/motion, sound, on-screen text, speech), and prints a
table. The thread budget is applied as the CLI applies it (EMSYNC_THREADS, default: the usable
cores); with two or more threads, speech is decoded in a helper process beside the frames, and its
CPU time is counted in the speech row and the total. Cold start (importing and loading every model)
is reported separately: it happens once per process, not per video. The warm figure is the second
pass over the same video with the cache off.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "emsync_models" / "emotion")]

from emotion_media import busy_drums, festival_speech, write_video  # noqa: E402

from emsync_models.emotion.analyzer import EmotionAnalyzer  # noqa: E402
from emsync_models.emotion.api import build_extractors  # noqa: E402
from emsync_models.emotion.sampling import probe_duration  # noqa: E402
from flows.runtime import apply_thread_budget  # noqa: E402
from flows.settings import get_settings  # noqa: E402


def benchmark_video(path: Path, seconds: float) -> Path:
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket(),
              skimage.data.camera()]
    scenes, t, i = [], 0.0, 0
    while t < seconds:
        photo = photos[i % len(photos)]
        photo = np.repeat(photo[..., None], 3, 2) if photo.ndim == 2 else photo[..., :3].copy()
        if i % 3 == 2:  # every third scene carries a caption, so OCR has something to read
            cv2.putText(photo, "THE BEST DAY EVER", (10, photo.shape[0] - 20), cv2.FONT_HERSHEY_SIMPLEX,
                        photo.shape[1] / 700, (255, 255, 255), 2)
        length = min(5.0, seconds - t)
        scenes.append((photo, length))
        t, i = t + length, i + 1
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.15 * busy_drums(t)
    lines = ["What a wonderful day, we won the game and everyone is happy",
             "I am terrified, this is a horrible disaster, get out of here"]
    pos, k = rate, 0
    while pos < audio.size - rate:   # one sentence, then a second of drums only, all the way through
        speech = festival_speech(lines[k % 2], rate)[: audio.size - pos]
        audio[pos:pos + speech.size] += 0.8 * speech
        pos, k = pos + speech.size + rate, k + 1
    write_video(path, scenes, size=(1280, 720), fps=25, audio=audio.astype(np.float32))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--video", type=Path)
    parser.add_argument("--no-text", action="store_true")
    parser.add_argument("--no-speech", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or benchmark_video(Path(tmp) / "bench720p.mp4", args.seconds)
        duration = probe_duration(video)
        budget = apply_thread_budget(get_settings())
        t0 = time.perf_counter()
        extractors = build_extractors(text=not args.no_text, speech=not args.no_speech)
        load_s = time.perf_counter() - t0
        analyzer = EmotionAnalyzer(extractors)
        # Warm-up pass: numba (librosa) and ONNX compile once per process.
        t0 = time.perf_counter()
        analyzer.extract(video, duration)
        first_s = time.perf_counter() - t0
        load_before = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        analyzer.extract(video, duration)
        total, cpu_total = time.perf_counter() - t0, time.process_time() - c0
        cpu_total += sum(e.helper_cpu_s() for e in extractors)
        per_min = 60.0 / duration
        print(f"video {video.name}: {duration:.1f} s, 1280x720; cpus {os.cpu_count()}, load average "
              f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}; cold start (imports + model load) {load_s:.1f} s, "
              f"first pass {first_s:.1f} s (once per process); thread budget {budget['threads']}")
        print("seconds per minute of video: wall clock, and CPU time of this process and its speech helper "
              "(robust to other load)")
        print(f"{'extractor':<10} {'version':<36} {'wall s/min':>11} {'cpu s/min':>10}")
        versions = {e.name: e.version for e in extractors} | {"decode": "PyAV demux+decode+scale"}
        for name, seconds in analyzer.timings.items():
            cpu = analyzer.cpu_timings[name]
            print(f"{name:<10} {versions[name]:<36} {seconds * per_min:>11.2f} {cpu * per_min:>10.2f}")
        print(f"{'total':<10} {'':<36} {total * per_min:>11.2f} {cpu_total * per_min:>10.2f}")


if __name__ == "__main__":
    main()
