"""The v2 music generator as the rest of EMSYNC sees it: the same request in, MIDI with hit points out.

Steps: base tempo from the opening arousal -> tempo map and bars (a short bar before a hit where
needed) that put each kept cut on a downbeat (hitpoints) -> the mode of the opening tonic from valence
(a composer's choice of key, like the tempo) -> constrained sampling on the beat grid (generate_v2) ->
notes that would clash with a new chord are released at the change -> the bass states each cut's
chord, a comping part strikes the model's chords on the beat (comping) -> a V-I cadence whose tonic
rings to the end -> MIDI written with the tempo map and meter, moved to a key chosen by the seed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import symusic
import torch

from emsync_models.errors import InputError
from emsync_models.music.analysis.chords import chord_change_times
from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S, merge_boundaries
from emsync_models.music.registry import V2, file_sha256
from emsync_models.music.request import (
    GeneratedMusic,
    GenerationRequest,
    emotion_at,
    output_key_shift,
    top_p_for,
    validate_request,
)
from emsync_models.music.v2.arranger import accent_hits, add_bass_line, fit_ranges, ring_final_chord
from emsync_models.music.v2.bar_grid import FOUR_FOUR, BarGrid
from emsync_models.music.v2.comping import FAST_BPM, comp_notes, strike_every
from emsync_models.music.v2.hitpoints import DEFAULT_MAX_CHANGE, TempoMap, base_tempo, tempo_map
from emsync_models.music.v2.model import STYLE_FAMILIES, MusicTransformerV2, MusicV2Config
from emsync_models.music.v2.remi import (
    BEATS_PER_BAR,
    QUALITY_INTERVALS,
    RESOLUTION,
    TICKS_PER_BEAT,
    BeatTokenizer,
    chord_token,
    parse_chord_token,
)
from emsync_models.music.v2.sample import (
    SamplingV2,
    TraceV2,
    cadence_steps,
    forced_plan,
    generate_v2,
    phrase_beats,
)

CHECKPOINT_V2 = V2.checkpoint
RING_S = 1.5  # the final chord sounds at least this long before the video ends
HOLD_S = 1.5  # around a merged cut (no hit point) the harmony holds this long either side


@dataclass
class PlannedPiece:
    tempo: TempoMap
    n_bars: int
    cut_beats: list[int]
    minor: bool
    style: int
    key_shift: int
    # beats around each merged cut where the harmony holds: a change a fraction of a second off a
    # visible cut sounds like a miss, so near a cut that gets no hit point the chord does not move
    hold_beats: tuple[tuple[float, float], ...] = ()


@dataclass
class GeneratedMusicV2(GeneratedMusic):
    style: str = ""


class MusicGeneratorV2:
    """A loaded v2 checkpoint plus the tokenizer; one per worker thread."""

    default_top_p = V2.top_p

    def __init__(self, model: MusicTransformerV2, metadata: dict | None = None, version: str = "untrained",
                 name: str = "emsync-music-v2", guidance: float = 1.5, min_gap_s: float = DEFAULT_MIN_GAP_S) -> None:
        self.model = model.eval()
        self.tokenizer = BeatTokenizer()
        if len(self.tokenizer) != model.config.vocab_size:
            raise InputError("checkpoint", f"vocabulary {model.config.vocab_size} != tokenizer's {len(self.tokenizer)}")
        self.metadata = metadata or {}
        self.version, self.name, self.guidance, self.min_gap_s = version, name, guidance, min_gap_s
        self.style_means: dict[int, tuple[float, float]] = {
            int(k): tuple(v) for k, v in self.metadata.get("style_means", {}).items()  # type: ignore[misc]
        }
        self.max_note_s = None
        # How far a section's tempo may move from the base to land its cut on a downbeat; where no beat
        # count fits, the cut takes the nearest beat and its residual is reported (hitpoints.tempo_map).
        self.max_tempo_change = DEFAULT_MAX_CHANGE
        # The user's valence/arousal scale [-1, 1] spans the training labels' 5-95 % range: the proxies
        # rarely reach +-1 (arousal: sd 0.39), and conditioning far outside the data asks the model for
        # music it never saw (high arousal wrote twice the corpus's densest pieces).
        self.label_range: dict[str, tuple[float, float]] = {
            k: (float(v[0]), float(v[1])) for k, v in self.metadata.get("label_p05_p95", {}).items()
        }

    def to_label_scale(self, valence: float, arousal: float) -> tuple[float, float]:
        def scale(x: float, key: str) -> float:
            if key not in self.label_range or np.isnan(x):
                return x
            lo, hi = self.label_range[key]
            return lo + (float(np.clip(x, -1.0, 1.0)) + 1.0) / 2.0 * (hi - lo)

        return scale(valence, "valence"), scale(arousal, "arousal")

    # --- planning --------------------------------------------------------------------------------
    def choose_style(self, valence: float, arousal: float) -> int:
        """The style family whose training pieces' mean (V, A) is nearest; 'other' without statistics."""
        if not self.style_means:
            return STYLE_FAMILIES.index("other")
        return min(self.style_means, key=lambda s: (self.style_means[s][0] - valence) ** 2
                   + (self.style_means[s][1] - arousal) ** 2)

    def plan(self, request: GenerationRequest, style: str | None = None) -> PlannedPiece:
        validate_request(request)
        _, v0, a0 = request.emotion[0]
        cuts = merge_boundaries(request.boundaries_s, self.min_gap_s, request.duration_s)
        tm = tempo_map(cuts, request.duration_s, base_tempo(a0), BEATS_PER_BAR, max_change=self.max_tempo_change)
        last_downbeat = tm.grid().bar_at(tm.beat_of(max(request.duration_s - RING_S, 0.0)))
        n_bars = max(last_downbeat + 1, 2)
        if style is not None and style not in STYLE_FAMILIES:
            raise InputError("style", f"unknown style {style!r}; choose from {', '.join(STYLE_FAMILIES)}")
        style_id = STYLE_FAMILIES.index(style) if style else self.choose_style(*self.to_label_scale(v0, a0))
        merged = [c for c in request.boundaries_s if 0.0 < c < request.duration_s and c not in cuts]
        hold = tuple((tm.beat_of(max(c - HOLD_S, 0.0)), tm.beat_of(c + HOLD_S)) for c in sorted(merged))
        return PlannedPiece(tm, n_bars, [h.beat for h in tm.hits], v0 < 0, style_id, output_key_shift(request.seed),
                            hold)

    # --- generation ------------------------------------------------------------------------------
    def trace(self, request: GenerationRequest, style: str | None = None) -> tuple[PlannedPiece, TraceV2]:
        plan = self.plan(request, style)
        tok = self.tokenizer
        tonic = tok.vocab[chord_token(0, "min" if plan.minor else "maj")]
        dominant = tok.vocab[chord_token(7, "7")]
        grid = plan.tempo.grid()
        forced = forced_plan(plan.n_bars, plan.cut_beats, tonic, dominant, grid=grid)

        def condition_at(beat: float) -> tuple[float, float]:
            return self.to_label_scale(*emotion_at(request.emotion, plan.tempo.time_of(beat)))

        phrases = [b for b in phrase_beats(plan.n_bars, plan.cut_beats, grid=grid)
                   if not any(a <= b < z for a, z in plan.hold_beats)]  # no turn asked for where it holds
        trace = generate_v2(
            self.model, tok, plan.n_bars, condition_at, forced,
            [float(b) for b in plan.cut_beats] + phrases, plan.style,
            seed=request.seed, grid=grid,
            opts=SamplingV2(request.temperature, top_p_for(request, self.default_top_p), self.guidance),
            hold=plan.hold_beats,
        )
        return plan, trace

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        return np.asarray(self.trace(request)[1].tokens, dtype=np.int64)

    def generate(self, request: GenerationRequest, style: str | None = None) -> GeneratedMusicV2:
        plan, trace = self.trace(request, style)
        score = self.to_score(plan, trace.tokens, request.duration_s)
        midi = pretty_midi.PrettyMIDI(io.BytesIO(score.dumps_midi()))
        chord_beats = [step / RESOLUTION for step, _ in trace.chord_steps]
        markers = [round(plan.tempo.time_of(b), 6) for b in chord_beats]
        cut_chords = []
        for hit in plan.tempo.hits:
            step = hit.beat * RESOLUTION
            written = next((s for s, _ in trace.chord_steps if s == step), None)
            cut_chords.append({"cut_s": hit.cut_s, "beat": hit.beat, "downbeat": hit.downbeat,
                               "chord_sounds_s": round(plan.tempo.time_of(written / RESOLUTION), 6)
                               if written is not None else None,
                               "residual_s": round(hit.residual_s, 6)})
        return GeneratedMusicV2(midi, list(trace.tokens), chord_change_times(midi), markers,
                                tempo_map=plan.tempo.to_dict(), cut_chords=cut_chords,
                                style=STYLE_FAMILIES[plan.style])

    # --- writing ---------------------------------------------------------------------------------
    def to_score(self, plan: PlannedPiece, tokens: list[int], duration_s: float) -> symusic.Score:
        """MIDI of the tokens: releases at chord changes, the ringing final tonic, tempo map, key."""
        tok = self.tokenizer
        grid = plan.tempo.grid()
        score = tok.decode(tokens, grid)
        changes = [(beat, parse_chord_token(tok.names[i]))
                   for beat, i in tok.timeline(tokens, grid) if tok.kind[i] == "Chord"]
        release_at_changes(score, [(round(b * TICKS_PER_BEAT), r, q) for b, (r, q) in changes])
        final_beat = grid.start(plan.n_bars - 1)
        end_beat = plan.tempo.beat_of(duration_s)
        slow = plan.tempo.requested_bpm < FAST_BPM
        # The bass states each cut's new chord for a beat, and the cadence's dominant until the tonic: at
        # low arousal the model's own notes on a cut can be a lone third, heard as the old harmony.
        dominant_step, _ = cadence_steps(plan.n_bars, plan.cut_beats, grid)
        dominant_beat = dominant_step / RESOLUTION
        chord_beats = [b for b, _ in changes]
        stated: list[tuple[float, float, int]] = []
        for beat in plan.cut_beats:
            k = next((j for j, b in enumerate(chord_beats) if abs(b - beat) < 1e-6), None)
            # (a cut carrying the dominant gets the cadence's longer bass note below, not a second one)
            if k is not None and beat < dominant_beat:
                until = min(chord_beats[k + 1] if k + 1 < len(chord_beats) else final_beat, beat + 1.0)
                stated.append((float(beat), until, changes[k][1][0]))
        if dominant_step > 0:
            stated.append((dominant_beat, final_beat, 7))
        add_bass_line(score, [c for c in changes if c[0] < final_beat], final_beat, stated, plan.key_shift,
                      slow, grid)
        # the comp's busyness follows the scene's tempo (arousal's), not the nudge that fitted the cuts
        add_comp(score, changes, final_beat, strike_every(plan.tempo.requested_bpm), grid)
        ring_final_chord(score, final_beat, end_beat, 0, "min" if plan.minor else "maj", plan.key_shift, slow)
        accent_hits(score, [b for b in plan.cut_beats if b < final_beat])
        score.tempos.clear()
        for beat, bpm in plan.tempo.tempo_changes():
            score.tempos.append(symusic.Tempo(int(beat * TICKS_PER_BEAT), float(bpm)))
        score.time_signatures.clear()
        for beat, beats in grid.meter_changes(max(plan.n_bars, len(grid.starts))):  # late hits too
            score.time_signatures.append(symusic.TimeSignature(beat * TICKS_PER_BEAT, beats, 4))
        for track in score.tracks:
            if not track.is_drum:
                track.shift_pitch(plan.key_shift, inplace=True)
        fit_ranges(score)  # every part inside its instrument's compass, in the key it sounds in
        return score


def release_at_changes(score: symusic.Score, changes: list[tuple[int, int, str]]) -> None:
    """End each pitched note that is still sounding at a chord change and is not in the new chord."""
    if not changes:
        return
    times = np.array([t for t, _, _ in changes])
    sets = [{(r + i) % 12 for i in QUALITY_INTERVALS.get(q, ())} for _, r, q in changes]
    for track in score.tracks:
        if track.is_drum:
            continue
        for note in track.notes:
            start, end = note.time, note.time + note.duration
            k = int(np.searchsorted(times, start, side="right"))
            while k < len(times) and times[k] < end:
                if sets[k] and note.pitch % 12 not in sets[k]:
                    note.duration = max(int(times[k] - start), 1)
                    break
                k += 1


COMP_PROGRAM = 0  # acoustic grand piano: a comp that speaks on each beat


def add_comp(score: symusic.Score, changes: list[tuple[float, tuple[int, str]]], end_beat: float,
             every: int = 1, grid: BarGrid = FOUR_FOUR) -> None:
    """The comping part (`comping.comp_notes`) under the model's chords, on its own piano track."""
    chords = [(beat, [(root + i) % 12 for i in QUALITY_INTERVALS.get(quality, ())])
              for beat, (root, quality) in changes]
    notes = comp_notes(chords, end_beat, every, grid=grid)
    if not notes:
        return
    track = symusic.Track("comp", COMP_PROGRAM)
    for start, stop, pitch, velocity in notes:
        a, b = int(round(start * TICKS_PER_BEAT)), int(round(stop * TICKS_PER_BEAT))
        track.notes.append(symusic.Note(a, max(b - a, 1), pitch, velocity))
    track.notes.sort()
    score.tracks.append(track)


def load_generator_v2(checkpoint: Path | None = None) -> MusicGeneratorV2:
    path = Path(checkpoint) if checkpoint is not None else CHECKPOINT_V2
    if not path.is_file():
        raise InputError(path, "music v2 checkpoint not found")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = MusicTransformerV2(MusicV2Config(**payload["model_config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "optimizer")}
    return MusicGeneratorV2(model, meta, version=file_sha256(path)[:12], guidance=float(payload.get("guidance", 1.5)))
