"""The soundtrack job for one video: probe → cuts → emotion → music → render → mux → store + record.

Each stage is a plain function with typed inputs and outputs, so the CLI runs them straight through
and the Prefect flows wrap the same functions as tasks. Bad input raises `InputError` before anything
is written; the output file appears under its final name only once every stage has succeeded.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pretty_midi

from emsync_models.errors import InputError, as_input_error, path_errors_as_input
from emsync_models.plots import figure_title, soundtrack_figure
from emsync_models.render.audio import render_midi
from emsync_models.render.midi_file import write_midi
from emsync_models.render.mux import mux_soundtrack
from emsync_models.video.cuts import scene_spans
from emsync_models.video.probe import VideoProbe
from emsync_models.video.single_pass import detect_cuts
from flows.delivery import publish as _publish
from flows.delivery import publish_all
from flows.job import (  # noqa: F401 - probe_input, cut_model_version re-exported
    VideoJob,
    cut_model_version,
    job_from_file,
    media_limits,
    probe_input,
)
from flows.job_args import (  # noqa: F401 - re-exported: callers import them from here
    SEED_RANGE,
    VIDEO_SUFFIXES,
    SoundtrackOptions,
    check_options,
    check_output,
    check_seed,
    job_params,
    music_controls,
)
from flows.runtime import apply_thread_budget, job_threads, thread_budget_report
from flows.settings import Settings
from flows.storage.scratch import scratch_dir

STAGES = ("probe", "cuts", "emotion", "music", "render", "mux", "store")

Progress = Callable[[str, float], None]


@dataclass
class SoundtrackResult:
    out: Path | None  # None: nothing published (a claimed catalog run keeps its stored objects only)
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def scene_cuts(path: Path, probe: VideoProbe, settings: Settings) -> list[float]:
    """Cuts alone (a decode of their own); the job gets them from `decode_once` instead."""
    return detect_cuts(path, probe.fps, settings.cuts.config(), threads=job_threads(settings))


def decode_pass(source: Path, probe: VideoProbe, settings: Settings, analyzer: Any = None) -> Any:  # noqa: ANN401
    """The video's one decode (a `SinglePass`): cuts, and the frames/audio `analyzer` samples, if any."""
    from emsync_models.video.single_pass import SinglePass

    return SinglePass(source, settings.cuts.config(),
                      sample_hz=analyzer.sample_hz if analyzer is not None else None,
                      max_side=analyzer.max_side if analyzer is not None else 640,
                      audio=bool(analyzer is not None and analyzer.wants_audio),
                      threads=job_threads(settings), expected_duration_s=probe.duration_s)


def decode_once(source: Path, probe: VideoProbe, settings: Settings, analyzer: Any = None,  # noqa: ANN401
                digest: str | None = None) -> tuple[VideoProbe, list[float], Any]:
    """Decode the video once: scene cuts, the probe checked against the decode (frame count, duration)
    and, given an emotion analyzer, its feature tracks (None without one). `digest`: the bytes' SHA-256
    when the caller has it (the analyzer's feature cache is keyed on it), so nobody reads them again."""
    one = decode_pass(source, probe, settings, analyzer)
    tracks = (analyzer.extract(source, probe.duration_s, media=one, content_key=digest)
              if analyzer is not None else None)
    one.run()  # nothing left to do if extract consumed it; decodes for the cuts if every track was cached
    checked = replace(probe, duration_s=one.duration_s, frame_count=one.frames)
    return checked, list(one.cuts_s), tracks


def user_emotion(probe: VideoProbe, cuts: list[float], valence: float, arousal: float) -> dict[str, Any]:
    """The emotion section when the user fixes valence/arousal: no classifier runs."""
    scenes = [{"start_s": s, "end_s": e, "probs": None, "valence": valence, "arousal": arousal,
               "confidence": 1.0} for s, e in scene_spans(cuts, probe.duration_s)]
    return {"source": "user", "model_name": "user", "model_version": "user",
            "overall": {"probs": None, "valence": valence, "arousal": arousal, "confidence": 1.0},
            "scenes": scenes, "extractors": {}}


def emotion_trajectory(emotion: dict[str, Any]) -> tuple[tuple[float, float, float], ...]:
    """Per-scene (start, valence, arousal): the music follows the video's emotional arc."""
    return tuple((float(s["start_s"]), float(s["valence"]), float(s["arousal"])) for s in emotion["scenes"])


def analyze_emotion(source: Path, cuts: list[float], duration_s: float, settings: Settings,
                    tracks: Any = None) -> dict[str, Any]:  # noqa: ANN401 - feature tracks from decode_once
    """Per-scene and overall emotion as a plain dict (the shape stored in the report and the database)."""
    from flows.inference import emotion_analyzer

    result = emotion_analyzer(settings).analyze(source, cuts, duration_s, tracks=tracks)
    return video_emotion_to_dict(result)


def video_emotion_to_dict(result: Any) -> dict[str, Any]:  # noqa: ANN401 - VideoEmotion, imported lazily
    def estimate(e: Any) -> dict[str, Any]:  # noqa: ANN401
        return {"probs": {k: round(float(v), 6) for k, v in e.probs.items()}, "valence": round(float(e.valence), 6),
                "arousal": round(float(e.arousal), 6), "confidence": round(float(e.confidence), 6)}

    def scene(s: Any) -> dict[str, Any]:  # noqa: ANN401
        # Why this emotion: each modality's share and cues, and what was heard and read.
        return {"start_s": s.start_s, "end_s": s.end_s, **estimate(s.estimate), "why": list(s.why),
                "contributions": s.contributions, "transcript": s.transcript, "on_screen_text": s.on_screen_text}

    return {"source": "model", "model_name": result.model_name, "model_version": result.model_version,
            "overall": {**estimate(result.overall), "contributions": result.contributions},
            "scenes": [scene(s) for s in result.scenes],
            "extractors": dict(result.extractors)}


@dataclass(frozen=True)
class ComposedMusic:
    midi: pretty_midi.PrettyMIDI
    chord_changes_s: list[float]  # analysed from the notes: what a listener hears change
    chord_markers_s: list[float]  # where the model emitted CHORD: where it meant the harmony to turn
    model_name: str
    model_version: str
    # v2: per kept cut, the beat it was mapped to and when its new chord sounds (hit points)
    cut_chords: list[dict] = field(default_factory=list)
    tempo_map: dict = field(default_factory=dict)
    music_model: str = ""  # v1 | v2: which generator wrote it (the name users read beside the hash)
    min_gap_s: float = 4.0  # cuts closer than this to the previous kept cut were merged (no hit point)
    plan: dict = field(default_factory=dict)  # v2: sections, tempi, keys, themes
    controls: dict = field(default_factory=dict)  # the style and ensemble, asked and played, in words


def cut_decisions(cuts: list[float], duration_s: float, min_gap_s: float,
                  cut_chords: list[dict] | None = None) -> list[dict[str, Any]]:
    """Each detected cut as the music saw it: kept (the generator aims a new chord at it) or merged
    (closer than `min_gap_s` to the previous kept cut, which it names), with v2's hit point if any."""
    from emsync_models.music.boundaries import merge_boundaries

    kept = merge_boundaries(cuts, min_gap_s, duration_s)
    hits = {round(float(c["cut_s"]), 6): c for c in cut_chords or []}
    out: list[dict[str, Any]] = []
    previous: float | None = None
    for cut in sorted(cuts):
        if cut in kept:
            previous = cut
            entry: dict[str, Any] = {"cut_s": cut, "kept": True}
            hit = hits.get(round(float(cut), 6))
            if hit is not None:
                entry.update(chord_sounds_s=hit.get("chord_sounds_s"), residual_s=hit.get("residual_s"),
                             beat=hit.get("beat"))
        elif previous is not None:
            entry = {"cut_s": cut, "kept": False, "merged_into_s": previous,
                     "why": f"{cut - previous:.2f} s after the kept cut at {previous:.2f} s (< {min_gap_s:g} s)"}
        else:
            entry = {"cut_s": cut, "kept": False, "merged_into_s": None, "why": "at the start or past the end"}
        out.append(entry)
    return out


def compose_music(duration_s: float, cuts: list[float], trajectory: tuple[tuple[float, float, float], ...],
                  seed: int, settings: Settings, progress: Progress | None = None,
                  controls: dict[str, Any] | None = None) -> ComposedMusic:
    """`controls`: the job's parameters holding its style and palette (`music_controls`), if any."""
    from emsync_models.music.controls import palette_from_params
    from flows.inference import music_generator

    generator = music_generator(settings)
    from emsync_models.music.request import GenerationRequest

    controls = controls or {}
    palette = palette_from_params(controls.get("palette"))
    request = GenerationRequest(duration_s=duration_s, boundaries_s=tuple(cuts), emotion=trajectory, seed=seed,
                                temperature=settings.music.temperature, top_p=settings.resolved_top_p,
                                style=controls.get("style"), instruments=palette.programs, drums=palette.drums)
    # Torch runs at the process's model budget (one thread: emsync_models.threads.MODEL_THREADS), set once
    # at process start: never changed here, where another job may be running beside this one.
    def bars(done: int, total: int) -> None:  # the music stage's own progress: bars written of all
        if progress is not None:
            progress("music", min(done / max(total, 1), 0.999))

    # a generator that writes bar by bar (v2) reports each bar; the others report when done
    takes_progress = "progress" in inspect.signature(generator.generate).parameters
    music = generator.generate(request, progress=bars) if takes_progress else generator.generate(request)
    return ComposedMusic(midi=music.midi, chord_changes_s=[round(t, 4) for t in music.chord_change_times_s],
                         chord_markers_s=[round(t, 4) for t in music.chord_marker_times_s],
                         model_name=generator.name, model_version=generator.version,
                         cut_chords=list(music.cut_chords),
                         tempo_map=dict(music.tempo_map),
                         music_model=settings.models.music_model, min_gap_s=float(generator.min_gap_s),
                         plan=dict(music.plan), controls=controls_report(music, request))


def controls_report(music: Any, request: Any) -> dict[str, Any]:  # noqa: ANN401 - GeneratedMusic, GenerationRequest
    """The style and ensemble in words: what was asked (or that the model chose) and what plays."""
    from emsync_models.music.controls import STYLE_DESCRIPTIONS, program_name

    style = str(getattr(music, "style", "") or "")
    playing = sorted({-1 if inst.is_drum else int(inst.program) for inst in music.midi.instruments if inst.notes})
    names = list(dict.fromkeys(program_name(p) for p in playing if p >= 0)) + (["Drums"] if -1 in playing else [])
    return {"style": style or None, "style_description": STYLE_DESCRIPTIONS.get(style),
            "style_from": "asked" if request.style else "valence/arousal",
            "palette": None if request.palette.free else request.palette.describe(),
            "ensemble": names}


def render_audio(midi_path: Path, wav_path: Path, duration_s: float, settings: Settings,
                 work_dir: Path | None = None, stems: list[tuple[Path, Path | None]] | None = None) -> Path:
    soundfont = settings.music.resolved_soundfont()
    if soundfont is None:
        raise InputError("EMSYNC_SOUNDFONT", "no General MIDI SoundFont found; install 'timgm6mb-soundfont' "
                         "or set EMSYNC_SOUNDFONT")
    return render_midi(midi_path, wav_path, soundfont, sample_rate=settings.music.sample_rate,
                       duration_s=duration_s, target_lufs=settings.music.loudness_lufs, threads=job_threads(settings),
                       work_dir=work_dir or wav_path.parent, stems=stems or ())


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(stage, 0.0)
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)
    if progress:
        progress(stage, 1.0)


def run_soundtrack(source: Path | VideoJob, out: Path | None, settings: Settings,
                   options: SoundtrackOptions = SoundtrackOptions(), progress: Progress | None = None,
                   source_uri: str | None = None) -> SoundtrackResult:
    """The whole job. Raises `InputError` for bad input; `out` exists only if everything succeeded.

    `source`: a file (probed, then read and hashed once, here) or the `VideoJob` its caller built.
    `out`: where the video with its soundtrack is published (None: stored objects only).

    A failure past validation (a model server down, a renderer crash) is recorded in the database as
    an infrastructure failure before it propagates; bad input is only reported, never recorded. A job
    that fills a claimed catalog run (`job.run`) leaves both to the run's owner, the catalog flow,
    which also checked the models were ready at its start.
    """
    from flows.inference import check_models_ready
    from flows.storage.persist import record_failure

    check_options(options)
    if out is not None:
        check_output(out, source.path if isinstance(source, VideoJob) else source, options.plot, options.export,
                     options.force)
    if thread_budget_report() is None:  # a library caller that skipped the entry points' start-up
        apply_thread_budget(settings)
    timings: dict[str, float] = {}
    subject = source.path if isinstance(source, VideoJob) else source
    with _timed(timings, "probe", progress), path_errors_as_input(subject):
        job = source if isinstance(source, VideoJob) else job_from_file(source, settings, source_uri)
        if options.original_audio_gain is not None and not job.probe.has_audio:
            raise InputError(job.path, "has no audio track to mix under the music (drop --mix-original)")
    params = job.run.params if job.run is not None else job_params(settings, options)
    try:
        if job.run is None:
            check_models_ready(settings)
        return _score(job, out, settings, options, params, timings, progress)
    except InputError:
        raise
    except Exception as exc:
        converted = as_input_error(exc)
        if converted is not None:  # deterministic: said to the user (exit 2), never recorded for a retry
            raise converted from exc
        if job.run is not None or "store" in timings:
            # A claimed run's failure is its owner's to record. Past the store stage the run is recorded
            # succeeded with its objects; what failed is only the copy to --out, which a second (failed)
            # row for the same job would contradict.
            raise
        record_failure(settings, source_uri=job.source_uri, content_hash=job.digest, params=params, kind="infra",
                       error=f"{type(exc).__name__}: {exc}")
        raise


def _score(job: VideoJob, out: Path | None, settings: Settings, options: SoundtrackOptions,
           params: dict[str, Any], timings: dict[str, float], progress: Progress | None) -> SoundtrackResult:
    """Every stage after validation: cuts, emotion, music, render, mux, store, publish; or, for a request
    whose result is stored already, only the publishing of it (`flows.reuse`)."""
    from flows.reuse import analysis_identity, expected_versions, render_identity, stored_analysis, stored_result

    user_fixed = options.valence is not None and options.arousal is not None
    with scratch_dir(settings, "soundtrack") as tmp:
        work = Path(tmp)
        analysis = None
        # A claimed catalog run was claimed because it is not done; it always computes.
        if job.run is None and not options.recompute:
            started = time.perf_counter()
            versions = expected_versions(settings, user_fixed, cut_model_version(settings))
            found = stored_result(settings, job.digest, versions, params, work)
            if found is not None:
                timings["reuse"] = round(time.perf_counter() - started, 3)
                return _deliver_stored(job, out, settings, options, found, timings, work)
            analysis = stored_analysis(settings, job.digest, versions, work)
        probe, cuts, emotion = _analyse(job, settings, options, timings, progress, analysis)
        with _timed(timings, "music", progress):
            music = compose_music(probe.duration_s, cuts, emotion_trajectory(emotion), params["seed"], settings,
                                  progress, controls=params)
        model_versions = {"cuts": cut_model_version(settings), "emotion": emotion["model_version"],
                          "music": music.model_version}
        if job.run is not None and model_versions != job.run.model_versions:
            # The claimed run's key names other models (settings or a checkpoint changed since the claim):
            # never store this result under it.
            raise RuntimeError(f"job identity drifted: claimed models {job.run.model_versions}, ran {model_versions}")
        extra = {"render": render_identity(settings), "analysis": analysis_identity(settings),
                 "reused": {"analysis_from_run": analysis.run_key} if analysis is not None else None}
        return _finish(job, out, settings, options, params, timings, progress, work, probe, cuts, emotion, music,
                       model_versions, extra)


def _analyse(job: VideoJob, settings: Settings, options: SoundtrackOptions, timings: dict[str, float],
             progress: Progress | None, analysis: Any) -> tuple[VideoProbe, list[float], dict[str, Any]]:  # noqa: ANN401
    """The probe checked against the decode, the cuts and the emotion: stored ones (`analysis`, a
    `reuse.StoredAnalysis`) where they stand for this job, else computed in the one decode pass."""
    from flows.inference import emotion_analyzer

    user_fixed = options.valence is not None and options.arousal is not None
    # "cuts" is the one decode pass: scene detection and the emotion extractors' per-frame work;
    # "emotion" what is left of emotion once the frames are seen (track summaries, fusion).
    with _timed(timings, "cuts", progress):
        if analysis is not None:
            names = {f.name for f in fields(VideoProbe)}
            probe = VideoProbe(**{**{k: v for k, v in analysis.probe.items() if k in names}, "path": str(job.path)})
            cuts, tracks = list(analysis.cuts_s), None
        else:
            analyzer = None if user_fixed else emotion_analyzer(settings)
            probe, cuts, tracks = decode_once(job.path, job.probe, settings, analyzer, job.digest)
    with _timed(timings, "emotion", progress):
        if options.valence is not None and options.arousal is not None:
            emotion = user_emotion(probe, cuts, options.valence, options.arousal)
        elif analysis is not None and analysis.emotion is not None:
            emotion = analysis.emotion
        else:
            emotion = analyze_emotion(job.path, cuts, probe.duration_s, settings, tracks=tracks)
            if tracks is not None and "speech" in tracks:
                # Where someone speaks (the speech extractor's voice-activity spans): the music ducks there.
                emotion["speech_spans_s"] = [[round(float(a), 3), round(float(b), 3)]
                                             for a, b, _ in tracks["speech"].spans]
    return probe, cuts, emotion


def _finish(job: VideoJob, out: Path | None, settings: Settings, options: SoundtrackOptions,
            params: dict[str, Any], timings: dict[str, float], progress: Progress | None, work: Path,
            probe: VideoProbe, cuts: list[float], emotion: dict[str, Any], music: ComposedMusic,
            model_versions: dict[str, str], extra: dict[str, Any]) -> SoundtrackResult:
    """Render, mix, store and publish a freshly composed piece."""
    from flows.storage.persist import record_soundtrack
    from flows.storage.store import artifact_key

    source, digest = job.path, job.digest
    run_key, catalog_id, flow_run_id = (job.run.run_key, job.run.catalog_id, job.run.flow_run_id) if job.run \
        else (None, None, None)
    # The built video takes the container `out` names (MP4, MOV, Matroska).
    midi_path, wav_path = work / "soundtrack.mid", work / "soundtrack.wav"
    video_path = work / f"video{out.suffix.lower() if out is not None else '.mp4'}"
    write_midi(music.midi, midi_path, probe.duration_s)
    # Always by instrument: the mix is rendered as the sum of the stems (`render_midi`), so the stored
    # audio is the same whether or not this request exports the stems.
    stems = _stem_files(music.midi, probe.duration_s, work)
    with _timed(timings, "render", progress):
        # Each part's own WAV only where the stems are delivered: a 2-hour piece's stems are gigabytes.
        render_audio(midi_path, wav_path, probe.duration_s, settings,
                     stems=[(m, w if options.export is not None else None) for _, m, w in stems])
    with _timed(timings, "mux", progress):
        mix = mix_plan(source, emotion, params, settings) if options.original_audio_gain is not None else None
        music_track = ducked_music(wav_path, mix, work) if mix is not None else wav_path
        mux_soundtrack(source, music_track, video_path, duration_s=probe.duration_s,
                       original_audio_gain=options.original_audio_gain)
    report = build_report(probe=probe, digest=digest, cuts=cuts, emotion=emotion, music=music,
                          model_versions=model_versions,
                          params=params, timings=timings, backend=settings.models.model_backend,
                          threads=thread_budget_report())
    report.update(extra)
    report["mix"] = mix
    report_path, plot_path = work / "report.json", work / "soundtrack.png"
    merged = [c["cut_s"] for c in report["music"]["cuts"] if not c["kept"]]
    soundtrack_figure(emotion, [c for c in cuts if c not in merged], probe.duration_s, music.midi,
                      music.chord_markers_s, plot_path, harmony_changes_s=music.chord_changes_s,
                      merged_cuts_s=merged, min_gap_s=music.min_gap_s, plan=music.plan,
                      title=figure_title(report["music"]))
    artifacts = {"midi": midi_path, "audio": wav_path, "video": video_path, "report": report_path,
                 "plot": plot_path}
    # Keys are a pure function of content + models + parameters, so the report can name them
    # before the upload that puts the objects there.
    report["artifacts"] = {kind: artifact_key(digest, model_versions, params, kind, path.suffix.lstrip("."))
                           for kind, path in artifacts.items()}
    with _timed(timings, "store", progress):
        report_path.write_text(json.dumps({**report, "timings_s": dict(timings)}, indent=2))
        keys = record_soundtrack(
            settings, source_uri=job.source_uri, content_hash=digest,
            probe=probe.to_dict(), cuts_s=cuts, emotion=emotion, params=params,
            model_versions=model_versions, timings=timings, artifacts=artifacts, run_key=run_key,
            catalog_id=catalog_id, flow_run_id=flow_run_id)
    if keys != report["artifacts"]:
        raise RuntimeError(f"object keys disagree with the report: {keys} != {report['artifacts']}")
    report["timings_s"] = dict(timings)
    built = {"video": video_path, "plot": plot_path, "midi": midi_path, "audio": wav_path,
             "ducked": music_track if mix is not None else None}
    _publish_requested(out, options, report, built, [(name, wav) for name, _, wav in stems])
    return SoundtrackResult(out=out, report=report, timings=timings)


def _publish_requested(out: Path | None, options: SoundtrackOptions, report: dict[str, Any],
                       built: dict[str, Path | None], stems: list[tuple[str, Path]]) -> None:
    """Write the files the user named (--out, --plot, --export) from the built or fetched ones."""
    report["files"] = {}
    video, plot = built["video"], built["plot"]
    assert video is not None and plot is not None
    requested: list[tuple[Path, Path]] = []
    if out is not None:
        requested.append((video, out))
        if options.plot is not None:
            requested.append((plot, options.plot))
            report["files"]["plot"] = str(options.plot.resolve())
        report["files"]["video"] = str(out.resolve())
    if options.export is not None:
        midi, audio = built["midi"], built["audio"]
        assert midi is not None and audio is not None
        report["files"]["export"] = export_files(options.export, midi, audio, plot, stems, report,
                                                 ducked=built.get("ducked"))
    publish_all(requested)  # the video and its picture together or neither


def mix_plan(source: Path, emotion: dict[str, Any], params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """How the music goes under the original audio: the speech spans it ducks at, and the ducking."""
    spans = emotion.get("speech_spans_s")
    found_by = "speech extractor"
    if spans is None:  # no emotion analysis ran (fixed valence/arousal) or a stored one predates the spans
        spans, found_by = speech_spans(source), "voice activity detector"
    return {"original_audio_gain": params["original_audio_gain"], "duck_db": params.get("duck_db", 0.0),
            "carve_db": params.get("duck_carve_db", 0.0),
            "attack_ms": settings.music.duck_attack_ms, "release_ms": settings.music.duck_release_ms,
            "speech_spans_s": [[float(a), float(b)] for a, b in spans], "speech_spans_from": found_by}


def speech_spans(source: Path) -> list[tuple[float, float]]:
    """Where someone speaks in the video's own audio, by the speech extractor's voice-activity detector."""
    from emsync_models.emotion.extractors.speech import voice_spans
    from emsync_models.emotion.sampling import stream_media
    from emsync_models.video.media import AudioChunk

    chunks = (item for item in stream_media(source, 1.0, audio=True, frames=False) if isinstance(item, AudioChunk))
    return [(round(a, 3), round(b, 3)) for a, b in voice_spans(chunks)]


def ducked_music(wav_path: Path, mix: dict[str, Any], work: Path) -> Path:
    """The music with its side-chain gain under the speech spans (`mix`, from `mix_plan`)."""
    from emsync_models.render.ducking import Ducking, duck_file

    ducking = Ducking(depth_db=float(mix["duck_db"]), carve_db=float(mix.get("carve_db", 0.0)),
                      attack_s=float(mix["attack_ms"]) / 1000,
                      release_s=float(mix["release_ms"]) / 1000)
    return duck_file(wav_path, work / "music-ducked.wav", [tuple(s) for s in mix["speech_spans_s"]], ducking)


def _deliver_stored(job: VideoJob, out: Path | None, settings: Settings, options: SoundtrackOptions,
                    found: Any, timings: dict[str, float], work: Path) -> SoundtrackResult:  # noqa: ANN401
    """An identical request: the stored objects become the files asked for; no stage runs. A video in
    another container than the stored one is muxed again from the stored music (no model, no render)."""
    from flows.storage.store import make_store

    store = make_store(settings)
    started = time.perf_counter()

    def fetch(kind: str) -> Path:
        key, sha = found.objects[kind]
        return store.get_file(key, work / f"stored-{kind}{Path(key).suffix}", expected_sha256=sha)

    report = dict(found.report)
    duration_s = float(report["input"]["duration_s"])
    mix = report.get("mix")
    built: dict[str, Path | None] = {"video": None, "plot": None, "midi": None, "audio": None, "ducked": None}
    stems: list[tuple[str, Path]] = []
    if out is not None:
        if Path(found.objects["video"][0]).suffix.lower() == out.suffix.lower():
            built["video"] = fetch("video")
        else:
            built["audio"] = fetch("audio")
            track = ducked_music(built["audio"], mix, work) if mix else built["audio"]
            built["video"] = mux_soundtrack(job.path, track, work / f"video{out.suffix.lower()}",
                                            duration_s=duration_s,
                                            original_audio_gain=mix["original_audio_gain"] if mix else None)
    if options.plot is not None or options.export is not None:
        built["plot"] = fetch("plot")
    if options.export is not None:
        built["midi"], built["audio"] = fetch("midi"), built["audio"] or fetch("audio")
        built["ducked"] = ducked_music(built["audio"], mix, work) if mix else None
        # Stems are not stored (a WAV per instrument per job): rendered again from the stored MIDI, as
        # deterministic as the first time, so they sum to the stored mix.
        parts = _stem_files(pretty_midi.PrettyMIDI(str(built["midi"])), duration_s, work)
        render_audio(built["midi"], work / "rerendered.wav", duration_s, settings,
                     stems=[(m, w) for _, m, w in parts])
        stems = [(name, wav) for name, _, wav in parts]
    timings["deliver"] = round(time.perf_counter() - started, 3)
    report["reused"] = {"result_from_run": found.run_key}
    report["timings_s"] = dict(timings)
    built["video"] = built["video"] or work / "unused"
    built["plot"] = built["plot"] or work / "unused"
    _publish_requested(out, options, report, built, stems)
    return SoundtrackResult(out=out, report=report, timings=timings)


EXPORT_NAMES = {"midi": "music.mid", "audio": "music.wav", "plot": "soundtrack.png", "report": "report.json"}


def _stem_files(midi: pretty_midi.PrettyMIDI, duration_s: float, work: Path) -> list[tuple[str, Path, Path]]:
    """(name, MIDI, WAV) per instrument track, from the same playable MIDI the mix is rendered from."""
    from emsync_models.render.midi_file import playable_notes
    from emsync_models.render.stems import stem_midis

    folder = work / "stems"
    folder.mkdir()
    return [(name, path, folder / f"{name}.wav")
            for name, path in stem_midis(playable_notes(midi, duration_s), folder)]


def export_files(folder: Path, midi_path: Path, wav_path: Path, plot_path: Path,
                 stems: list[tuple[str, Path]], report: dict[str, Any], ducked: Path | None = None) -> dict[str, Any]:
    """The deliverables under plain names in `folder` (checked by `check_output` before any work):
    music.mid, music.wav, stems/NN-instrument.wav, soundtrack.png and report.json, and with the original
    audio kept, music-ducked.wav (the music as it lies under the dialogue in the video). Returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem_folder = folder / "stems"
    if stem_folder.is_dir():  # --force: an earlier export's stems would not sum to this mix
        for old in stem_folder.glob("*.wav"):
            old.unlink()
    stem_folder.mkdir(exist_ok=True)
    files: dict[str, Any] = {kind: str((folder / name).resolve()) for kind, name in EXPORT_NAMES.items()}
    files["stems"] = {name: str((stem_folder / f"{name}.wav").resolve()) for name, _ in stems}
    for kind, built in (("midi", midi_path), ("audio", wav_path), ("plot", plot_path)):
        _publish(built, Path(files[kind]))
    for name, built in stems:
        _publish(built, Path(files["stems"][name]))
    stale = folder / "music-ducked.wav"
    if ducked is not None:
        files["ducked"] = str(stale.resolve())
        _publish(ducked, stale)
    else:
        stale.unlink(missing_ok=True)  # --force over an earlier export with the original audio kept
    exported = {**report, "files": {**report.get("files", {}), "export": files}}
    built_report = midi_path.parent / "export-report.json"
    built_report.write_text(json.dumps(exported, indent=2))
    _publish(built_report, Path(files["report"]))
    return files


def build_report(*, probe: VideoProbe, digest: str, cuts: list[float], emotion: dict[str, Any],
                 music: ComposedMusic, model_versions: dict[str, str],
                 params: dict[str, Any], timings: dict[str, float], backend: str,
                 threads: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "input": {**probe.to_dict(), "sha256": digest},
        "cuts_s": cuts,
        "scenes": [{"start_s": s, "end_s": e} for s, e in scene_spans(cuts, probe.duration_s)],
        "emotion": emotion,
        "music": {"model": music.music_model, "model_name": music.model_name, "model_version": music.model_version,
                  "min_boundary_gap_s": music.min_gap_s,
                  "cuts": cut_decisions(cuts, probe.duration_s, music.min_gap_s, music.cut_chords),
                  "chord_changes_s": music.chord_changes_s, "chord_markers_s": music.chord_markers_s,
                  "cut_chords": music.cut_chords, "tempo_map": music.tempo_map,
                  "plan": music.plan, **music.controls},
        "models": model_versions,
        "backend": backend,
        "threads": threads,  # the thread budget this process ran under (flows.runtime)
        "params": params,
        "timings_s": dict(timings),
        "artifacts": {},
    }
