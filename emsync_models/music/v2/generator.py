"""The v2 music generator as the rest of EMSYNC sees it: the same request in, MIDI with hit points out.

Steps: base tempo from the opening arousal -> tempo map and bars (a short bar before a hit where
needed) that put each kept cut on a downbeat (hitpoints) -> the mode of the opening tonic from valence
(a composer's choice of key, like the tempo) -> constrained sampling on the beat grid (generate_v2),
the chords the model chooses diatonic to the section's key (harmony), the tonic at the start of each
8-bar phrase -> notes that would clash with a new chord are released at the change -> the bass states
each cut's chord, a part that rests for a phrase holds the harmony, on the tonic or fifth where the chord
has it (ensemble), a comping part strikes the model's chords on the beat (comping) -> a V-I cadence whose tonic
rings to the end -> MIDI written with the tempo map and meter, moved to a key chosen by the seed.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pretty_midi
import symusic
import torch

from emsync_models.errors import InputError
from emsync_models.music.analysis.chords import chord_change_times
from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S, merge_boundaries
from emsync_models.music.controls import Palette
from emsync_models.music.registry import V2, file_sha256
from emsync_models.music.request import (
    GeneratedMusic,
    GenerationRequest,
    output_key_shift,
    top_p_for,
    validate_request,
)
from emsync_models.music.v2.arranger import (
    BASS_FAMILY,
    accent_hits,
    add_bass_line,
    fit_ranges,
    keep_above_bass,
    ring_final_chord,
)
from emsync_models.music.v2.bar_grid import FOUR_FOUR, BarGrid
from emsync_models.music.v2.comping import FAST_BPM, comp_notes
from emsync_models.music.v2.ensemble import ending_joins, hold_through
from emsync_models.music.v2.harmony import PEDALS, key_chords
from emsync_models.music.v2.hitpoints import DEFAULT_MAX_CHANGE, Hit, TempoMap, tempo_map
from emsync_models.music.v2.model import STYLE_FAMILIES, MusicTransformerV2, MusicV2Config
from emsync_models.music.v2.palette import fit_palette
from emsync_models.music.v2.plan import Section, emotion_at_time, plan_sections, plan_summary
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
    ForcedChord,
    SamplingV2,
    TraceV2,
    Voicing,
    cadence_steps,
    forced_plan,
    generate_v2,
    phrase_beats,
)
from emsync_models.music.v2.sections import bars_of, split_sections, transpose_tokens
from emsync_models.music.v2.texture import comp_level, comp_voices, thin_crowded_bars, voices_at
from emsync_models.music.v2.themes import (
    THEME_BARS,
    THEME_NAME,
    THEME_PROGRAMS,
    restate_chords,
    restate_theme,
    top_line,
)

CHECKPOINT_V2 = V2.checkpoint
RING_S = 1.5  # the final chord sounds at least this long before the video ends
HOLD_S = 1.5  # around a merged cut (no hit point) the harmony holds this long either side
# New instruments enter a section only in its first bars (the opening section's first eight): the
# ensemble changes where the plan turns, not in the middle of a phrase.
FIRST_ENTRY_BARS, ENTRY_BARS = 8, 2
TAIL_BARS = 2  # bars of the previous section a section's context opens with
# Dynamics follow each scene's arousal: +-24 velocity at the ends of the scale, around a level each section
# is set to. Offsets alone on the model's own velocities were hidden by its section-to-section swing (which
# instruments play, which comp level): per-minute Spearman with arousal 0.45-0.73 on held-out films.
VELOCITY_PER_AROUSAL = 24
SECTION_LEVEL = 72  # a section's mean pitched velocity at arousal 0 (the model's own notes sit at 70-85)
COMP_NAME = "comp"
# A section comes home to its tonic at the start of each 8-bar phrase. Left to itself the model dwelt on vi,
# bVII or V for half a minute, and a listener (and a key finder) heard the relative or the dominant key
# where the plan had not turned; every 4 bars made the harmony rock between I and one other chord.
HOME_PHRASE_BARS = 8


@dataclass(frozen=True)
class SectionLayout:
    """Where one planned section sits in the piece: its first beat and second, its own bar grid (from
    its first downbeat), its bars, and its cuts in its own beats. The section's last cut (its end) is the
    next section's first downbeat."""

    beat: int
    time_s: float
    grid: BarGrid
    n_bars: int
    cut_beats: tuple[int, ...]
    last: bool
    # beats (its own) around each merged cut where the harmony holds: a change a fraction of a second
    # off a visible cut sounds like a miss, so near a cut that gets no hit point the chord does not move
    hold: tuple[tuple[float, float], ...] = ()

    def holds(self, beat: float) -> bool:
        """Whether the harmony holds at `beat` (its own beats)."""
        return any(a <= beat < z for a, z in self.hold)


@dataclass
class PlannedPiece:
    tempo: TempoMap
    n_bars: int
    cut_beats: list[int]
    minor: bool  # the opening section's mode
    style: int  # the opening section's style family
    key_shift: int
    sections: list[Section] = field(default_factory=list)
    layout: list[SectionLayout] = field(default_factory=list)
    styles: list[int] = field(default_factory=list)  # per section
    emotion: tuple[tuple[float, float, float], ...] = ()  # the request's scenes: dynamics follow them

    @property
    def hold_beats(self) -> tuple[tuple[float, float], ...]:
        """The sections' hold spans in the piece's beats."""
        return tuple((lay.beat + a, lay.beat + b) for lay in self.layout for a, b in lay.hold)

    def section_shift(self, i: int) -> int:
        """Semitones section i's notes (written in C) move by: the piece's key plus the section's, -5..+6."""
        return (self.key_shift + self.sections[i].key + 5) % 12 - 5

    def to_dict(self) -> dict:
        out = plan_summary(self.sections, self.key_shift)
        for d, lay, style in zip(out["sections"], self.layout, self.styles, strict=True):
            d.update(start_beat=lay.beat, bars=lay.n_bars, style=STYLE_FAMILIES[style])
        return out


@dataclass
class GeneratedMusicV2(GeneratedMusic):
    style: str = ""
    # the standard MIDI file `midi` was read from: a server sends these bytes, so a client reading them
    # holds the very same notes (a rewrite can pair overlapping same-pitch notes differently)
    midi_file: bytes = field(default=b"", repr=False)


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
        """Sections from the scenes (`form_plan`), then each section's own tempo map, its last cut (its
        end) on a downbeat, laid end to end: tempo, mode, style and drums change at section boundaries."""
        validate_request(request)
        style = request.style if style is None else style
        if style is not None and style not in STYLE_FAMILIES:
            raise InputError("style", f"unknown style {style!r}; choose from {', '.join(STYLE_FAMILIES)}")
        cuts = merge_boundaries(request.boundaries_s, self.min_gap_s, request.duration_s)
        merged = sorted(c for c in request.boundaries_s if 0.0 < c < request.duration_s and c not in cuts)
        sections = plan_sections(request.emotion, cuts, request.duration_s)
        if not request.drums:  # the user's "no drums" holds in every section
            sections = [replace(s, drums=False) for s in sections]
        beat0, time0 = 0, 0.0
        starts: list[int] = []
        start_s: list[float] = []
        bpms: list[float] = []
        hits: list[Hit] = []
        bar_starts: list[int] = []
        layout: list[SectionLayout] = []
        bases: list[float] = []  # each section's base tempo (hit points bend it within the bound)
        for i, sec in enumerate(sections):
            last = i == len(sections) - 1
            end = request.duration_s if last else sec.end_s
            local = [c - time0 for c in cuts if time0 + 1e-9 < c < end - 1e-9]
            if not last:
                local.append(end - time0)
            length = end - time0 if last else end - time0 + 1.0  # the end is a cut inside the map
            tm = tempo_map(local, length, sec.bpm, BEATS_PER_BAR, max_change=self.max_tempo_change)
            bases.append(tm.base_bpm)
            own_hits = list(tm.hits)
            grid = tm.grid()
            if last:
                n_bars = max(grid.bar_at(tm.beat_of(max(length - RING_S, 0.0))) + 1, 2)
                segments = range(len(tm.bpm))
                own_bars = list(tm.bar_starts)
            else:
                # The section ends on a downbeat, the next one's first: where its last cut fell on the
                # middle beat, the bar it falls in ends there (a 2/4 bar before the new section).
                end_beat = own_hits[-1].beat
                bars_ = [b for b in tm.bar_starts if b < end_beat] + [end_beat]
                own_hits[-1] = replace(own_hits[-1], downbeat=True)
                grid = BarGrid(tuple(bars_), BEATS_PER_BAR)
                n_bars = len(bars_) - 1
                segments = range(len(tm.bpm) - 1)  # the one after the end belongs to the next section
                own_bars = bars_[:-1]
            for k in segments:
                starts.append(beat0 + tm.start_beats[k])
                start_s.append(time0 + tm.start_s[k])
                bpms.append(tm.bpm[k])
            hits.extend(Hit(round(time0 + h.cut_s, 9), beat0 + h.beat, time0 + h.time_s, h.downbeat) for h in own_hits)
            bar_starts.extend(beat0 + b for b in own_bars)
            inner = tuple(h.beat for h in own_hits if last or h is not own_hits[-1])
            hold = tuple((tm.beat_of(max(c - time0 - HOLD_S, 0.0)), tm.beat_of(c - time0 + HOLD_S))
                         for c in merged if time0 <= c < end)
            layout.append(SectionLayout(beat0, time0, grid, n_bars, inner, last, hold))
            if not last:
                beat0, time0 = beat0 + own_hits[-1].beat, time0 + own_hits[-1].time_s
        tempo = TempoMap(bases[0], BEATS_PER_BAR, tuple(starts), tuple(start_s), tuple(bpms), tuple(hits),
                         tuple(bar_starts), requested_bpm=sections[0].bpm)
        styles = [STYLE_FAMILIES.index(style) if style else
                  self.choose_style(*self.to_label_scale(s.valence, s.arousal)) for s in sections]
        n_bars = sum(lay.n_bars for lay in layout)
        return PlannedPiece(tempo, n_bars, [h.beat for h in hits], sections[0].minor, styles[0],
                            output_key_shift(request.seed), sections, layout, styles, tuple(request.emotion))

    # --- generation ------------------------------------------------------------------------------
    def trace(self, request: GenerationRequest, style: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[PlannedPiece, TraceV2]:
        """The piece section by section; each section's tokens open with BOS. A section hears the end of
        the one before (moved into its key) or, where its feeling returns, that feeling's theme."""
        plan = self.plan(request, style)
        tok = self.tokenizer
        out = TraceV2([])
        ensemble: tuple[int, ...] = ()
        tail: tuple[int, ...] = ()
        themes: dict[int, tuple[int, ...]] = {}  # feeling -> its theme's tokens (bars, in its key's C)
        theme_chords: dict[int, list[tuple[int, float, int]]] = {}
        scene_starts = [e[0] for e in request.emotion]
        done = 0
        for i, (sec, lay) in enumerate(zip(plan.sections, plan.layout, strict=True)):
            forced = section_forced(tok, plan, i)
            lock = 0
            if sec.restates and sec.theme in theme_chords:
                forced, lock = restate_chords(forced, theme_chords[sec.theme], lay.grid, lay.n_bars,
                                              augment=sec.restates % 2 == 0)
            forced = home_phrases(forced, lay, section_tonic(tok, sec), lock)
            prime = themes.get(sec.theme, ()) if sec.restates else tail

            def condition_at(beat: float, lay: SectionLayout = lay) -> tuple[float, float]:
                t = plan.tempo.time_of(lay.beat + beat)
                return self.to_label_scale(*emotion_at_time(request.emotion, t, scene_starts))

            voice = Voicing(prime, ensemble, sec.drums,
                            new_programs_until=lay.grid.start(ENTRY_BARS if i else FIRST_ENTRY_BARS) * RESOLUTION,
                            chords_locked_until=lock,
                            progress=None if progress is None else
                            (lambda b, base=done: progress(min(base + b + 1, plan.n_bars), plan.n_bars)),
                            programs=None if request.instruments is None else frozenset(request.instruments),
                            key_chords=key_chords(tok, sec.minor))
            phrases = [b for b in phrase_beats(lay.n_bars, lay.cut_beats, grid=lay.grid)
                       if not lay.holds(b)]  # no turn asked for where it holds
            bounds = [float(b) for b in lay.cut_beats] + phrases
            if not lay.last:
                bounds.append(float(lay.grid.start(lay.n_bars)))
            trace = generate_v2(
                self.model, tok, lay.n_bars, condition_at, forced, bounds, plan.styles[i],
                seed=section_seed(request.seed, i), grid=lay.grid, voice=voice, hold=lay.hold,
                opts=SamplingV2(request.temperature, top_p_for(request, self.default_top_p), self.guidance),
            )
            offset = lay.beat * RESOLUTION
            out.tokens.extend(trace.tokens)
            out.chord_steps.extend((offset + s, c) for s, c in trace.chord_steps)
            out.forced_hits.extend(offset + s for s in trace.forced_hits)
            ensemble = tuple(trace.programs)
            out.programs = list(ensemble)
            if not sec.restates:
                themes[sec.theme] = bars_of(tok, trace.tokens, 0, THEME_BARS)
                theme_chords[sec.theme] = [(lay.grid.bar_at(s / RESOLUTION), lay.grid.beat_in_bar(s / RESOLUTION), c)
                                           for s, c in trace.chord_steps
                                           if lay.grid.bar_at(s / RESOLUTION) < THEME_BARS]
            if i + 1 < len(plan.sections):
                shift = (sec.key - plan.sections[i + 1].key + 6) % 12 - 6
                tail = transpose_tokens(tok, bars_of(tok, trace.tokens, max(lay.n_bars - TAIL_BARS, 0), lay.n_bars),
                                        shift)
            done += lay.n_bars
        return plan, out

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        return np.asarray(self.trace(request)[1].tokens, dtype=np.int64)

    def generate(self, request: GenerationRequest, style: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> GeneratedMusicV2:
        """MIDI for the request; `progress(bars written, bars in all)` after each bar."""
        plan, trace = self.trace(request, style, progress)
        score = self.to_score(plan, trace.tokens, request.duration_s, request.palette)
        midi_file = score.dumps_midi()
        midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_file))
        chord_beats = [step / RESOLUTION for step, _ in trace.chord_steps]
        markers = [round(plan.tempo.time_of(b), 6) for b in chord_beats]
        cut_chords = []
        written_at = {s for s, _ in trace.chord_steps}
        for hit in plan.tempo.hits:
            step = hit.beat * RESOLUTION
            written = step if step in written_at else None
            cut_chords.append({"cut_s": hit.cut_s, "beat": hit.beat, "downbeat": hit.downbeat,
                               "chord_sounds_s": round(plan.tempo.time_of(written / RESOLUTION), 6)
                               if written is not None else None,
                               "residual_s": round(hit.residual_s, 6)})
        return GeneratedMusicV2(midi, list(trace.tokens), chord_change_times(midi), markers,
                                tempo_map=plan.tempo.to_dict(), cut_chords=cut_chords,
                                style=STYLE_FAMILIES[plan.style], plan=plan.to_dict(), midi_file=midi_file)

    # --- writing ---------------------------------------------------------------------------------
    def to_score(self, plan: PlannedPiece, tokens: list[int], duration_s: float,
                 palette: Palette = Palette()) -> symusic.Score:
        """MIDI of the tokens: each section written in C (releases at chord changes, bass at its cuts, the
        comp, a restated theme), moved to its key and placed at its first beat; the ringing final tonic,
        dynamics from the scenes' arousal, tempo map and meters; the arranger's parts moved into `palette`."""
        tok = self.tokenizer
        streams = split_sections(tok, tokens)
        if len(streams) != len(plan.layout):
            raise InputError("tokens", f"{len(streams)} sections of tokens for a plan of {len(plan.layout)}")
        score = symusic.Score(TICKS_PER_BEAT)
        tracks: dict[tuple[str, int, bool], symusic.Track] = {}
        for i, ids in enumerate(streams):
            part = self.write_section(plan, i, ids, streams, duration_s)
            shift, offset = plan.section_shift(i), plan.layout[i].beat * TICKS_PER_BEAT
            end = None if plan.layout[i].last else (plan.layout[i + 1].beat - plan.layout[i].beat) * TICKS_PER_BEAT
            for track in part.tracks:
                key = (track.name if track.name in (COMP_NAME, THEME_NAME) else "", track.program, track.is_drum)
                if key not in tracks:
                    tracks[key] = symusic.Track(track.name, track.program, track.is_drum)
                    score.tracks.append(tracks[key])
                target = tracks[key]
                for n in track.notes:
                    if end is not None and n.time >= end:
                        continue
                    length = n.duration if end is None else max(min(n.duration, end - n.time), 1)
                    pitch = n.pitch if track.is_drum else n.pitch + shift
                    target.notes.append(symusic.Note(n.time + offset, length, pitch, n.velocity))
        follow_arousal(score, plan)
        fit_palette(score, palette)  # before the ranges: a part moved to another instrument takes its compass
        fit_ranges(score)  # every part inside its instrument's compass, in the key it sounds in
        for track in score.tracks:
            track.notes.sort()
        score.tempos.clear()
        for beat, bpm in plan.tempo.tempo_changes():
            score.tempos.append(symusic.Tempo(int(beat * TICKS_PER_BEAT), float(bpm)))
        grid = plan.tempo.grid()
        score.time_signatures.clear()
        for beat, beats in grid.meter_changes(max(plan.n_bars, len(grid.starts))):  # late hits too
            score.time_signatures.append(symusic.TimeSignature(beat * TICKS_PER_BEAT, beats, 4))
        return score

    def write_section(self, plan: PlannedPiece, i: int, ids: list[int], streams: list[list[int]],
                      duration_s: float) -> symusic.Score:
        """One section's notes in its own beats and in C: the model's, released at its chord changes,
        with the bass on its cuts, the comp, a restated theme, and the ending (last section) or the
        next key's dominant (the others)."""
        tok = self.tokenizer
        lay, sec = plan.layout[i], plan.sections[i]
        grid = lay.grid
        score = tok.decode(ids, grid)
        changes = [(beat, parse_chord_token(tok.names[c]))
                   for beat, c in tok.timeline(ids, grid) if tok.kind[c] == "Chord"]
        release_at_changes(score, [(round(b * TICKS_PER_BEAT), r, q) for b, (r, q) in changes])
        final_beat = grid.start(lay.n_bars - 1) if lay.last else grid.start(lay.n_bars)
        shift = plan.section_shift(i)
        slow = sec.bpm < FAST_BPM
        n_cadence = lay.n_bars if lay.last else lay.n_bars + 1
        # The bass states each cut's new chord for a beat, and the cadence's dominant (in a section
        # before another, the next key's) until the tonic: at low arousal the model's own notes on a cut
        # can be a lone third, heard as the old harmony.
        dominant_step, _ = cadence_steps(n_cadence, lay.cut_beats, grid)
        dominant_beat = dominant_step / RESOLUTION
        chord_beats = [b for b, _ in changes]
        stated: list[tuple[float, float, int]] = []
        for beat in lay.cut_beats:
            k = next((j for j, b in enumerate(chord_beats) if abs(b - beat) < 1e-6), None)
            # (a cut carrying the dominant gets the cadence's longer bass note below, not a second one)
            if k is not None and beat < dominant_beat:
                until = min(chord_beats[k + 1] if k + 1 < len(chord_beats) else final_beat, beat + 1.0)
                stated.append((float(beat), until, changes[k][1][0]))
        if dominant_step > 0:
            stated.append((dominant_beat, final_beat, 7 if lay.last else (plan.sections[i + 1].key - sec.key + 7) % 12))
        if sec.restates:
            home = next(j for j, s in enumerate(plan.sections) if s.theme == sec.theme and not s.restates)
            home_grid = plan.layout[home].grid
            line = top_line(tok.decode(streams[home], home_grid), home_grid)
            restate_theme(score, line, grid, lay.n_bars, augment=sec.restates % 2 == 0,
                          program=THEME_PROGRAMS[(sec.restates - 1) % len(THEME_PROGRAMS)], intensity=sec.intensity)
        bass = add_bass_line(score, [c for c in changes if c[0] < final_beat], final_beat, stated, shift, slow, grid)
        keep_above_bass(score, bass)
        # how busy each bar is follows the scene it sounds under: crowded bars thinned, the comp set to fit
        starts = [e[0] for e in plan.emotion]

        def bar_seconds(bar: int) -> float:
            return plan.tempo.time_of(lay.beat + grid.start(bar + 1)) - plan.tempo.time_of(lay.beat + grid.start(bar))

        def bar_arousal(bar: int) -> float:
            if not plan.emotion:
                return 0.0
            middle = plan.tempo.time_of(lay.beat + (grid.start(bar) + grid.start(bar + 1)) / 2)
            return emotion_at_time(plan.emotion, middle, starts)[1]

        def kept_whole(track: symusic.Track) -> bool:
            return track.name == THEME_NAME or int(track.program) in BASS_FAMILY

        thin_crowded_bars(score, grid, lay.n_bars, TICKS_PER_BEAT, bar_seconds, bar_arousal, kept_whole)
        if lay.last and i > 0:  # a long piece's closing section: its ensemble already holds the final chord's
            ending_joins(score, changes, TICKS_PER_BEAT)
        hold_through(score, [c for c in changes if c[0] < final_beat], final_beat, TICKS_PER_BEAT,
                     left_alone=lambda t: int(t.program) in BASS_FAMILY, pedals=PEDALS)
        voices = comp_voices(score, grid, lay.n_bars, TICKS_PER_BEAT, bar_seconds, bar_arousal)
        add_comp(score, changes, final_beat, grid=grid, voices=voices_at(voices, grid),
                 offbeat=voices_at(voices, grid, part=1),
                 level=lambda beat: comp_level(bar_arousal(grid.bar_at(beat))))
        if lay.last:
            end_beat = plan.tempo.beat_of(duration_s) - lay.beat
            ring_final_chord(score, final_beat, end_beat, 0, "min" if sec.minor else "maj", shift, slow)
        # a section's first downbeat is a hit too (a cut, or the turn the plan put there)
        accent_hits(score, [b for b in lay.cut_beats if b < final_beat] + ([0] if i else []))
        return score


def section_forced(tok: BeatTokenizer, plan: PlannedPiece, i: int) -> list[ForcedChord]:
    """Section i's forced chords, in its own steps: its tonic first, a new chord on each cut; the last
    section closes on V7-I, the others on the dominant seventh of the next section's key (the V7 that
    prepares the modulation, resolved by the next section's opening tonic)."""
    sec, lay = plan.sections[i], plan.layout[i]
    tonic = section_tonic(tok, sec)
    if lay.last:
        return forced_plan(lay.n_bars, lay.cut_beats, tonic, tok.vocab[chord_token(7, "7")], grid=lay.grid)
    prepare = tok.vocab[chord_token((plan.sections[i + 1].key - sec.key + 7) % 12, "7")]
    end = lay.grid.start(lay.n_bars) * RESOLUTION
    return [f for f in forced_plan(lay.n_bars + 1, lay.cut_beats, tonic, prepare, grid=lay.grid) if f.step < end]


def section_tonic(tok: BeatTokenizer, sec: Section) -> int:
    """The chord token of the section's tonic (it is written in C)."""
    return tok.vocab[chord_token(0, "min" if sec.minor else "maj")]


def home_phrases(forced: list[ForcedChord], lay: SectionLayout, tonic_id: int, lock: int,
                 every: int = HOME_PHRASE_BARS) -> list[ForcedChord]:
    """The section's forced chords with its tonic on each `every`-bar phrase's first downbeat: a section
    comes home at the start of its phrases, so the key it was planned in is the key it is heard in. Not
    within a bar of a cut (the cut's own change is heard there), in a harmony hold, inside a restated
    theme's harmony (before `lock`), or in the cadence's last two bars."""
    by_step = {f.step: f for f in forced}
    for beat in phrase_beats(lay.n_bars - 2, lay.cut_beats, every_bars=every, grid=lay.grid):
        step = int(beat) * RESOLUTION
        if step >= lock and step not in by_step and not lay.holds(beat):
            by_step[step] = ForcedChord(step, tonic_id)
    return [by_step[k] for k in sorted(by_step)]


def section_seed(seed: int, i: int) -> int:
    """The sampling seed of section i: the request's own for the first (a one-section piece samples as
    before), one drawn from (seed, i) for the others."""
    return seed if i == 0 else int(np.random.default_rng([seed, i, 30]).integers(2**31 - 1))


def follow_arousal(score: symusic.Score, plan: PlannedPiece) -> None:
    """Dynamics follow the picture: each section played at the level its scenes ask for (its pitched notes'
    mean at `SECTION_LEVEL` + 24 x its mean arousal, the model's accents and the arranger's hits kept
    relative to it), each note louder or softer by its own scene's arousal."""
    if not plan.emotion:
        return
    starts = [e[0] for e in plan.emotion]
    section_starts = [sec.start_s for sec in plan.sections]
    tracks = []  # per track: its notes with (section, arousal), read once (symusic hands out new views)
    total: dict[int, list[float]] = {}
    for track in score.tracks:
        placed = []
        for n in track.notes:
            t = plan.tempo.time_of(n.time / TICKS_PER_BEAT)
            i = max(bisect.bisect_right(section_starts, t) - 1, 0)
            arousal = emotion_at_time(plan.emotion, t, starts)[1]
            placed.append((n.time, n.duration, n.pitch, n.velocity, i, arousal))
            if not track.is_drum:
                acc = total.setdefault(i, [0.0, 0.0, 0.0])
                acc[0], acc[1], acc[2] = acc[0] + n.velocity, acc[1] + arousal, acc[2] + 1
        tracks.append((track, placed))
    # per section: (mean arousal, the shift that puts its mean pitched velocity at its level)
    level = {i: (a / c, SECTION_LEVEL + VELOCITY_PER_AROUSAL * a / c - v / c) for i, (v, a, c) in total.items()}
    for track, placed in tracks:
        track.notes.clear()
        for time, duration, pitch, velocity, i, arousal in placed:
            mean_a, shift = level.get(i, (arousal, 0.0))
            v = velocity + shift + VELOCITY_PER_AROUSAL * (arousal - mean_a)
            track.notes.append(symusic.Note(time, duration, pitch, int(min(max(round(v), 1), 127))))


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
             every: int = 1, grid: BarGrid = FOUR_FOUR, level: Callable[[float], int] | None = None,
             voices: Callable[[float], int] | None = None, offbeat: Callable[[float], int] | None = None) -> None:
    """The comping part (`comping.comp_notes`) under the model's chords, on its own piano track."""
    chords = [(beat, [(root + i) % 12 for i in QUALITY_INTERVALS.get(quality, ())])
              for beat, (root, quality) in changes]
    notes = comp_notes(chords, end_beat, every, grid=grid, level=level, voices=voices, offbeat=offbeat)
    if not notes:
        return
    track = symusic.Track(COMP_NAME, COMP_PROGRAM)
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
