"""`emsync data music build`: the v2 music corpus, built from MMA grooves and music21's progressions.

The science (progressions, charts, labels, proxies) lives in emsync_models.music; this module runs the
build-time tool (`mma`, a subprocess, never imported), fans pieces out over worker processes, and keeps
the build resumable: every finished piece (ok or failed) is one appended manifest line, MIDI and
labels are written to a temporary name and renamed, and a re-run skips the ids already in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emsync_models.music.corpus.arrangement import MAX_S, MIN_S, Chart, PieceSpec, chart_for, plan_piece
from emsync_models.music.corpus.grooves import (
    DEFAULT_STDLIB,
    GrooveFamily,
    audition,
    groove_families,
    load_groove_library,
    playable,
    probe_script,
)
from emsync_models.music.corpus.layout import (
    MANIFEST,
    ChartChord,
    KeyChange,
    PieceLabels,
    PieceRow,
    Section,
    TempoPoint,
    chord_symbol,
    labels_path,
    midi_path,
    read_manifest_lines,
)
from emsync_models.music.corpus.progressions import Progression

FORMAT_VERSION = 1
V1_SHARE = 0.04  # share of pieces that are real chorale scores played as written
MMA_TIMEOUT_S = 60.0
BATCH = 8  # pieces per mma run: its start-up (~0.16 CPU-s) costs more than rendering a piece
SEPARATOR_BARS = 2
TOKEN_CHECK_EVERY = 25  # every 25th piece's token count is checked against MidiTok's encoder
TOKENIZER_CONFIG = {
    "tokenizer": "REMI", "miditok": "3.1.0", "use_programs": True, "one_token_stream_for_programs": True,
    "use_tempos": True, "num_tempos": 161, "tempo_range": [40, 200], "use_time_signatures": True,
    "use_chords": False, "chart_chord_tokens": True,
    "note": "token_count = REMI tokens + one token per chart chord (MidiTok's own chord detection is off; "
            "the chart's chords are the chord tokens). REMI tokens are counted by render_v2.remi_token_count "
            "and checked against MidiTok's encoder on every 25th piece",
}


class BuildError(Exception):
    """The build cannot start (bad arguments, a folder built with other settings, mma missing)."""


# ---- sources -------------------------------------------------------------------------------------

def music21_corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def source_items(seed: int, budget: int) -> list[tuple[str, str]]:
    """(kind, path) of the source items a build of this budget reads, deterministic for the seed.

    RomanText analyses first (few and cheap), then chorales and folk tunes in a seeded order, about a
    third chorales. Folk collections of many tunes are addressed tune by tune as `path#n`.
    """
    root = music21_corpus_dir()
    rng = np.random.default_rng([seed, 1])

    def rel(p: Path) -> str:  # items are named inside music21's corpus, so splits outlive the venv
        return str(p.relative_to(root))

    rnt = sorted(rel(p) for p in root.rglob("*.rntxt"))
    chorales = sorted(rel(p) for p in (root / "bach").glob("bwv*.mxl"))
    folk = sorted(rel(p) for p in (root / "ryansMammoth").glob("*.abc"))
    folk += [f"{rel(p)}#{i}" for p in sorted((root / "essenFolksong").glob("*.abc"))
             for i in range(_count_tunes(p))]
    rng.shuffle(chorales)
    rng.shuffle(folk)
    n_rnt = min(len(rnt), max(2, budget // 10))
    n_ch = min(len(chorales), max(4, (budget - n_rnt) // 3))
    n_folk = max(budget - n_rnt - n_ch, 4)
    items = [("romantext", p) for p in rnt[:n_rnt]] + [("chorale", p) for p in chorales[:n_ch]]
    return items + [("folk", p) for p in folk[:n_folk]]


def _count_tunes(path: Path) -> int:
    return sum(1 for line in path.read_text(errors="replace").splitlines() if line.startswith("X:"))


def _abc_tune(path: str, index: int) -> str:
    text = Path(path).read_text(errors="replace")
    tunes, current = [], []
    for line in text.splitlines():
        if line.startswith("X:") and current:
            tunes.append(current)
            current = []
        if line.startswith("X:") or current:
            current.append(line)
    if current:
        tunes.append(current)
    return "\n".join(tunes[index]) + "\n"


def extract_item(item: tuple[str, str]) -> dict:
    """One source item's progressions (as JSON), or the reason it gave none."""
    from emsync_models.music.corpus import progressions as prog

    kind, item_name = item
    path = str(music21_corpus_dir() / item_name)
    try:
        if kind == "romantext":
            found = [p for p in [prog.romantext_progression(path)] if p is not None]
        elif kind == "chorale":
            found = [p for p in [prog.chorale_progression(path)] if p is not None]
        else:
            from music21 import converter

            file, _, index = path.partition("#")
            score = converter.parse(_abc_tune(file, int(index)), format="abc") if index else converter.parse(file)
            if hasattr(score, "scores"):
                score = score.scores[0]
            found = [p for p in [prog.folk_tune(score, item_name)] if p is not None]
    except Exception as exc:  # a source that will not parse is skipped, with its reason kept
        return {"kind": kind, "item": item_name, "progressions": [],
                "reason": f"{type(exc).__name__}: {exc}"[:300]}
    found = [Progression(p.source, item_name, p.mode, p.beats_per_bar, p.bars, p.melody) for p in found]
    return {"kind": kind, "item": item_name, "progressions": [p.to_json() for p in found],
            "reason": "" if found else "no usable bars"}


# ---- pieces --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class V1Spec:
    id: str
    progression: int
    tempo_bpm: int
    tonic_pc: int
    program: int


_WORKER: dict = {}


def _init_worker(progressions: list[Progression], families: dict[str, GrooveFamily], out: str, mma: str,
                 two_chord: frozenset[str] = frozenset()) -> None:
    _WORKER.update(progressions=progressions, families=families, out=Path(out), mma=mma, tokenizer=None,
                   two_chord=two_chord)


def _tokenizer() -> object:
    if _WORKER.get("tokenizer") is None:
        from miditok import REMI, TokenizerConfig

        cfg = TokenizerConfig(
            use_programs=True, one_token_stream_for_programs=True, use_tempos=True, num_tempos=161,
            tempo_range=(40, 200), use_time_signatures=True, use_chords=False,
        )
        _WORKER["tokenizer"] = REMI(cfg)
    return _WORKER["tokenizer"]


def split_for(item: str) -> str:
    """train/val/test by a hash of the source item: no progression or tune is on two sides."""
    h = int(hashlib.sha256(item.encode()).hexdigest()[:8], 16) % 100
    return "test" if h < 5 else "val" if h < 10 else "train"


def _failed(spec: PieceSpec | V1Spec, prog: Progression | None, groove: str, family: str, reason: str) -> dict:
    return PieceRow(
        id=spec.id, source="v1-score" if isinstance(spec, V1Spec) else "mma",
        source_item=prog.item if prog else "", groove=groove, groove_family=family,
        tempo_bpm=float(spec.tempo_bpm), tonic_pc=int(spec.tonic_pc), mode=prog.mode if prog else "",
        time_signature="", beats_per_bar=0, n_bars=0, duration_s=0.0,
        split=split_for(prog.item) if prog else "train", valence=0.0, arousal=0.0, token_count=0,
        has_melody=False, programs=(), status="failed", reason=" ".join(reason.split())[:300],
    ).to_json()


def _finish(score: object, labels: PieceLabels, spec_id: str, source: str, prog: Progression, groove: str,
            family: str, has_melody: bool) -> dict:
    """Write MIDI + labels atomically, then the manifest row (proxies and token count)."""
    from emsync_models.music.corpus.proxies import proxies_for
    from emsync_models.music.corpus.render import piece_notes_seconds, remi_token_count

    out: Path = _WORKER["out"]
    notes = piece_notes_seconds(score)  # type: ignore[arg-type]
    velocities = [n.velocity for t in score.tracks for n in t.notes]  # type: ignore[attr-defined]
    duration_s = labels.beat_to_seconds(labels.n_bars * labels.beats_per_bar)
    if not MIN_S - 1.0 <= duration_s <= MAX_S + 1.0:
        raise ValueError(f"duration {duration_s:.1f} s is outside {MIN_S:g}-{MAX_S:g} s")
    valence, arousal = proxies_for(labels, notes, velocities, duration_s)
    remi = remi_token_count(score)  # type: ignore[arg-type]
    if int(spec_id) % TOKEN_CHECK_EVERY == 0:  # the fast count must be MidiTok's: check a sample
        tokens = _tokenizer()(score)  # type: ignore[operator]
        encoded = len(tokens.ids if hasattr(tokens, "ids") else tokens[0].ids)
        if encoded != remi:
            raise ValueError(f"REMI token count {remi} differs from MidiTok's {encoded}")
    token_count = remi + len(labels.chords)
    mid, lab = midi_path(out, spec_id), labels_path(out, spec_id)
    tmp_mid, tmp_lab = mid.with_suffix(".mid.tmp"), lab.with_suffix(".json.tmp")
    score.dump_midi(str(tmp_mid))  # type: ignore[attr-defined]
    tmp_lab.write_text(json.dumps(labels.to_json()))
    os.replace(tmp_mid, mid)
    os.replace(tmp_lab, lab)
    programs = tuple(sorted({int(t.program) for t in score.tracks if not t.is_drum}))  # type: ignore[attr-defined]
    key = labels.keys[0]
    return PieceRow(
        id=spec_id, source=source, source_item=prog.item, groove=groove, groove_family=family,
        tempo_bpm=float(labels.tempo_map[0].bpm), tonic_pc=key.tonic_pc, mode=key.mode,
        time_signature=f"{labels.beats_per_bar}/4", beats_per_bar=labels.beats_per_bar, n_bars=labels.n_bars,
        duration_s=round(duration_s, 3), split=split_for(prog.item), valence=round(valence, 4),
        arousal=round(arousal, 4), token_count=token_count, has_melody=has_melody, programs=programs,
        status="ok", reason="",
    ).to_json()


def run_mma(mma: str, script: str, workdir: Path) -> Path:
    src, dst = workdir / "piece.mma", workdir / "piece.mid"
    src.write_text(script)
    try:
        proc = subprocess.run([mma, "-w", "-xNOCREDIT", str(src), "-f", str(dst)], capture_output=True,
                              text=True, timeout=MMA_TIMEOUT_S, cwd=workdir)
    except subprocess.TimeoutExpired:
        raise ValueError(f"mma ran over {MMA_TIMEOUT_S:g} s") from None
    errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("Error")]
    if proc.returncode != 0 or errors or not dst.exists():
        raise ValueError("mma failed: " + (" ".join(errors) or (proc.stderr or proc.stdout).strip()[-200:]))
    return dst


def render_charts(mma: str, charts: list[Chart]) -> list[object]:
    """Render several charts in one `mma` run (its start-up is most of its cost) and cut them apart.

    Each chart opens with its own `RndSeed`, `Tempo` and `Groove` + `Seq` lines, so its music does not
    depend on what was rendered before it; rest bars between charts keep one's ringing notes out of the
    next, and each piece is clipped from its first downbeat to its last bar (notes that start inside
    it keep their full length).
    """
    import symusic

    parts: list[str] = []
    starts: list[int] = []
    beat = 0
    for chart in charts:
        starts.append(beat)
        parts.append(chart.mma)
        beat += chart.labels.n_bars * chart.labels.beats_per_bar
        parts.append("z!\n" * SEPARATOR_BARS)
        beat += SEPARATOR_BARS * chart.labels.beats_per_bar
    with tempfile.TemporaryDirectory(prefix="mma-") as tmp:
        whole = symusic.Score(str(run_mma(mma, "".join(parts), Path(tmp))))
    tpq = whole.ticks_per_quarter
    scores: list[object] = []
    for chart, start in zip(charts, starts, strict=True):
        length = chart.labels.n_bars * chart.labels.beats_per_bar
        piece = whole.clip(start * tpq, (start + length) * tpq, False).shift_time(-start * tpq)
        # the clip carries the tempo in force before the piece; the piece's own opening tempo wins
        opening = [t for t in piece.tempos if t.time == 0]
        for t in opening[:-1]:
            piece.tempos.remove(t)
        # the run's other pieces leave their tracks behind, empty: a piece keeps only its own
        for track in [t for t in piece.tracks if len(t.notes) == 0]:
            piece.tracks.remove(track)
        scores.append(piece)
    return scores


def build_mma_batch(specs: list[PieceSpec], skip: frozenset[str] = frozenset()) -> list[dict]:
    """Rows for a batch of MMA pieces rendered together (alone, if the batch's mma run fails).

    Pieces in `skip` (already built) are rendered with the batch, because MMA carries a little state
    (an arpeggio's position) from one piece to the next, but are not written again.
    """
    from emsync_models.music.corpus.render import add_melody, check_render, vary_programs

    progs: list[Progression] = _WORKER["progressions"]
    rows: dict[str, dict] = {}
    charts: dict[str, tuple[Chart, Progression]] = {}
    for spec in specs:
        fam: GrooveFamily | None = _WORKER["families"].get(spec.family)
        prog = progs[spec.progression] if 0 <= spec.progression < len(progs) else None
        if fam is None or prog is None:
            rows[spec.id] = _failed(spec, prog, spec.groove, spec.family, f"unknown groove family {spec.family!r}")
            continue
        try:
            charts[spec.id] = (chart_for(spec, prog, fam, _WORKER["two_chord"]), prog)
        except Exception as exc:  # one bad piece is recorded, never stops the build
            rows[spec.id] = _failed(spec, prog, spec.groove, spec.family, f"{type(exc).__name__}: {exc}")
    todo = [s for s in specs if s.id in charts]
    rendered: dict[str, object] = {}
    try:
        rendered = dict(zip([s.id for s in todo], render_charts(_WORKER["mma"], [charts[s.id][0] for s in todo]),
                            strict=True))
    except Exception:  # a bad piece spoils its batch's run: render each alone to find it
        for spec in todo:
            try:
                rendered[spec.id] = render_charts(_WORKER["mma"], [charts[spec.id][0]])[0]
            except Exception as exc:
                rows[spec.id] = _failed(spec, charts[spec.id][1], spec.groove, spec.family,
                                        f"{type(exc).__name__}: {exc}")
    for spec in todo:
        if spec.id in rows or spec.id in skip:
            continue
        chart, prog = charts[spec.id]
        try:
            score = rendered[spec.id]
            check_render(score, chart.labels)  # type: ignore[arg-type]
            rng = np.random.default_rng(spec.program_seed)
            vary_programs(score, rng)  # type: ignore[arg-type]
            if chart.melody:
                add_melody(score, chart.melody, rng)  # type: ignore[arg-type]
            rows[spec.id] = _finish(score, chart.labels, spec.id, "mma", prog, spec.groove, spec.family,
                                    bool(chart.melody))
        except Exception as exc:  # one bad piece is recorded, never stops the build
            rows[spec.id] = _failed(spec, prog, spec.groove, spec.family, f"{type(exc).__name__}: {exc}")
    return [rows[s.id] for s in specs if s.id not in skip]


def build_v1_piece(spec: V1Spec) -> dict:
    """A chorale as written (all voices, one GM voice), labelled by its analysed harmony."""
    import symusic

    progs: list[Progression] = _WORKER["progressions"]
    prog = progs[spec.progression]
    try:
        bpb = prog.beats_per_bar
        max_bars = int(MAX_S * spec.tempo_bpm / 60.0 // bpb)
        n_bars = min(len(prog.bars), max_bars)
        tpq = 480
        score = symusic.Score(tpq)
        score.tempos.append(symusic.Tempo(0, float(spec.tempo_bpm)))
        score.time_signatures.append(symusic.TimeSignature(0, bpb, 4))
        track = symusic.Track(name="score", program=spec.program, is_drum=False)
        shift = spec.tonic_pc if spec.tonic_pc <= 6 else spec.tonic_pc - 12
        for n in prog.melody:
            if n.onset_beat < n_bars * bpb:
                dur = min(n.duration_beats, n_bars * bpb - n.onset_beat)
                track.notes.append(symusic.Note(int(round(n.onset_beat * tpq)), max(int(round(dur * tpq)), 1),
                                                n.pitch + shift, 80))
        score.tracks.append(track)
        chords: list[ChartChord] = []
        for b, bar in enumerate(prog.bars[:n_bars]):
            starts = [0, (bpb + 1) // 2] if len(bar) > 1 else [0]
            for k, c in enumerate(bar):
                end = starts[k + 1] if k + 1 < len(starts) else bpb
                root = (c.root + spec.tonic_pc) % 12
                chords.append(ChartChord(float(b * bpb + starts[k]), float(end - starts[k]), root, c.quality,
                                         chord_symbol(root, c.quality)))
        labels = PieceLabels(spec.id, bpb, n_bars, tuple(chords), (TempoPoint(0.0, float(spec.tempo_bpm)),),
                             (KeyChange(0.0, spec.tonic_pc, prog.mode),), (Section(0.0, "main"),), "analysis")
        return _finish(score, labels, spec.id, "v1-score", prog, "none", "score", False)
    except Exception as exc:  # one bad piece is recorded, never stops the build
        return _failed(spec, prog, "none", "score", f"{type(exc).__name__}: {exc}")


def build_piece(spec: PieceSpec | V1Spec) -> dict:
    return build_v1_piece(spec) if isinstance(spec, V1Spec) else build_mma_batch([spec])[0]


def build_batch(job: tuple[list[PieceSpec | V1Spec], frozenset[str]]) -> list[dict]:
    """Rows of one fixed batch's pieces that are not in its skip set (built before a resume)."""
    specs, skip = job
    mma_specs = [s for s in specs if isinstance(s, PieceSpec)]
    rows = {r["id"]: r for r in build_mma_batch(mma_specs, skip)} if mma_specs else {}
    rows.update({s.id: build_v1_piece(s) for s in specs if isinstance(s, V1Spec) and s.id not in skip})
    return [rows[s.id] for s in specs if s.id not in skip]


# ---- the plan and the build ----------------------------------------------------------------------

def plan(seed: int, limit: int, progressions: list[Progression], families: dict[str, GrooveFamily]) -> list:
    """Every piece's spec; piece i depends only on (seed, i) and the source lists."""
    fam_list = [families[k] for k in sorted(families)]
    chorales = [i for i, p in enumerate(progressions) if p.source == "chorale" and p.melody]
    specs: list[PieceSpec | V1Spec] = []
    for i in range(limit):
        rng = np.random.default_rng([seed, 2, i])
        piece_id = f"{i:06d}"
        if chorales and rng.random() < V1_SHARE:
            p = chorales[int(rng.integers(len(chorales)))]
            beats = len(progressions[p].bars) * progressions[p].beats_per_bar
            slowest = int(min(100, max(56, beats * 60 // MIN_S)))  # as fast as still lasts 30 s
            tempo = int(rng.integers(56, slowest + 1))
            specs.append(V1Spec(piece_id, p, tempo, int(rng.integers(12)),
                                int(rng.choice((0, 19, 48, 52, 6, 42)))))
        else:
            specs.append(plan_piece(piece_id, rng, progressions, fam_list))
    return specs


@dataclass
class BuildSummary:
    out: Path
    pieces: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # already in the manifest (a resumed build)
    seconds: float = 0.0
    failures: Counter = field(default_factory=Counter)


def _source_budget(limit: int) -> int:
    """Source items to parse: music21 takes ~1 CPU-s per score, so about one item per 50 pieces (each
    is heard in 12 keys, both modes and many grooves), at most 400."""
    return int(np.clip(limit // 50, 24, 400))


def _check_params(out: Path, params: dict) -> None:
    path = out / "build.json"
    if path.exists():
        old = json.loads(path.read_text()).get("params", {})
        if old != params:
            raise BuildError(f"{out} was built with {old}; these settings are {params}: use another --out")


def load_sources(out: Path, items: list[tuple[str, str]], workers: int,
                 progress: Callable[[str, int, int], None] | None = None) -> list[Progression]:
    """Progressions of every item, cached in out/sources.jsonl (resumable like the pieces)."""
    cache = out / "sources.jsonl"
    done = {r["item"]: r for r in read_manifest_lines(cache)}
    todo = [it for it in items if it[1] not in done]
    if todo:
        with cache.open("a") as fh:
            for k, row in enumerate(_imap(extract_item, todo, workers)):
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                done[row["item"]] = row
                if progress:
                    progress("sources", k + 1, len(todo))
    out_list: list[Progression] = []
    for _, item in items:
        out_list.extend(Progression.from_json(p) for p in done[item]["progressions"])
    return out_list


def _imap(fn: Callable, items: list, workers: int, initargs: tuple | None = None) -> Iterator:
    if workers <= 1:
        if initargs is not None:
            _init_worker(*initargs)
        yield from map(fn, items)
        return
    from multiprocessing import get_context

    ctx = get_context("fork")
    kwargs = {"initializer": _init_worker, "initargs": initargs} if initargs is not None else {}
    with ctx.Pool(workers, **kwargs) as pool:
        yield from pool.imap_unordered(fn, items, chunksize=1 if initargs is not None else 4)


def _audition_family(args: tuple[str, list[str], int, str]) -> dict[str, str]:
    import symusic

    name, grooves, beats, mma = args
    try:
        with tempfile.TemporaryDirectory(prefix="mma-probe-") as tmp:
            score = symusic.Score(str(run_mma(mma, probe_script(grooves, beats), Path(tmp))))
        return audition(score, grooves, beats)
    except Exception:  # a family MMA cannot render is left out whole
        return {g: "none" for g in grooves}


def audition_grooves(out: Path, families: dict[str, GrooveFamily], mma: str, workers: int,
                     progress: Callable[[str, int, int], None] | None = None) -> dict[str, str]:
    """Each base/fill groove's harmonic rhythm ("half" | "bar" | "none"), cached in out/grooves.json."""
    cache = out / "grooves.json"
    if cache.exists():
        return json.loads(cache.read_text())
    jobs = [(f.name, list(f.base + f.fill), f.beats_per_bar, mma) for f in families.values()]
    rhythm: dict[str, str] = {}
    for k, result in enumerate(_imap(_audition_family, jobs, workers)):
        rhythm.update(result)
        if progress:
            progress("grooves", k + 1, len(jobs))
    tmp = cache.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(sorted(rhythm.items())), indent=0))
    os.replace(tmp, cache)
    return rhythm


def find_mma() -> str:
    mma = shutil.which("mma")
    if mma is None:
        raise BuildError("the `mma` command is missing (Debian package `mma`; `bash infra/install.sh --dev`)")
    return mma


def build_corpus(out: Path, limit: int, workers: int = 2, seed: int = 0, stdlib: Path = DEFAULT_STDLIB,
                 progress: Callable[[str, int, int], None] | None = None,
                 families: Sequence[str] | None = None) -> BuildSummary:
    """Build (or resume) a corpus of `limit` pieces in `out` (`families`: only these groove families)."""
    if limit < 1:
        raise BuildError(f"--limit must be >= 1, got {limit}")
    if workers < 1:
        raise BuildError(f"--workers must be >= 1, got {workers}")
    mma = find_mma()
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "midi").mkdir(exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    params = {"seed": seed, "limit": limit, "format": FORMAT_VERSION, "stdlib": str(stdlib),
              "families": sorted(families) if families else "all"}
    _check_params(out, params)
    all_families = groove_families(load_groove_library(stdlib))
    if families:
        unknown = sorted(set(families) - set(all_families))
        if unknown:
            raise BuildError(f"unknown groove families {unknown}; see {stdlib}")
        all_families = {k: v for k, v in all_families.items() if k in set(families)}
    rhythm = audition_grooves(out, all_families, mma, workers, progress)
    families = {k: f for k, f in ((k, playable(f, rhythm)) for k, f in all_families.items()) if f is not None}
    two_chord = frozenset(g for g, r in rhythm.items() if r == "half")
    items = source_items(seed, _source_budget(limit))
    (out / "build.json").write_text(json.dumps({"params": params, "tokenizer": TOKENIZER_CONFIG}, indent=1))
    progressions = load_sources(out, items, workers, progress)
    if not progressions:
        raise BuildError("no source gave a progression (is music21's corpus installed?)")
    specs = plan(seed, limit, progressions, families)
    manifest = out / MANIFEST
    rows = read_manifest_lines(manifest)
    _repair_torn_line(manifest)
    done = {r["id"] for r in rows}
    # Batches are fixed groups of ids, so a resumed build renders the same pieces together.
    groups = [specs[i : i + BATCH] for i in range(0, len(specs), BATCH)]
    batches = [(g, frozenset(s.id for s in g if s.id in done)) for g in groups if any(s.id not in done for s in g)]
    n_todo = sum(len(g) - len(skip) for g, skip in batches)
    summary = BuildSummary(out, pieces=limit, skipped=len(done))
    with manifest.open("a") as fh:
        finished = 0
        for batch_rows in _imap(build_batch, batches, workers, (progressions, families, str(out), mma, two_chord)):
            fh.write("".join(json.dumps(row) + "\n" for row in batch_rows))
            fh.flush()
            for row in batch_rows:
                if row["status"] != "ok":
                    summary.failures[row["reason"].split(":")[0]] += 1
            finished += len(batch_rows)
            if progress:
                progress("pieces", finished, n_todo)
    rows = sorted(read_manifest_lines(manifest), key=lambda r: r["id"])
    tmp = manifest.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, manifest)
    summary.ok = sum(r["status"] == "ok" for r in rows)
    summary.failed = sum(r["status"] != "ok" for r in rows)
    summary.seconds = time.perf_counter() - t0
    info = json.loads((out / "build.json").read_text())
    info["summary"] = {"pieces": len(rows), "ok": summary.ok, "failed": summary.failed,
                       "last_run_s": round(summary.seconds, 1), "groove_families": len(families),
                       "grooves_by_rhythm": dict(Counter(rhythm.values())),
                       "sources": len(items), "progressions": len(progressions)}
    (out / "build.json").write_text(json.dumps(info, indent=1))
    return summary


def _repair_torn_line(manifest: Path) -> None:
    """A build killed mid-write can leave a last line without its newline: cut it off."""
    if not manifest.exists():
        return
    data = manifest.read_bytes()
    if data and not data.endswith(b"\n"):
        manifest.write_bytes(data[: data.rfind(b"\n") + 1])
