"""The one typed settings object. No other module reads environment variables.

Values come from `EMSYNC_*` environment variables or a `.env` file in the working directory; every
real server sits behind a setting whose default is an embedded component (SQLite, a local folder,
in-process models), so a fresh machine needs no configuration at all.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from emsync_models.music import registry as music_registry

# Debian's General MIDI SoundFonts, best first: the first one present is used when none is set.
# MuseScore General (Lite, 40 MB, sf3) sounds far less synthetic than TimGM6mb, which stays as fallback.
KNOWN_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMSYNC_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".emsync", description="where embedded state lives")

    # metadata
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")

    # objects
    object_store: Literal["local", "s3"] = "local"
    store_dir: Path | None = Field(default=None, description="local object folder; default data_dir/objects")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "emsync"
    s3_secure: bool = False
    s3_region: str | None = None
    s3_input_prefix: str = Field(default="inputs/", description="where in s3_bucket catalog videos may live")
    allowed_s3_sources: list[str] = Field(
        default_factory=list,
        description="s3://bucket/prefix/ locations manifests may read from; default s3://<s3_bucket>/<s3_input_prefix>",
    )

    # models
    model_backend: Literal["inprocess", "triton"] = "inprocess"
    triton_url: str = "127.0.0.1:8000"
    triton_timeout_s: float = 300.0
    triton_retries: int = 3
    music_model: Literal["v1", "v2"] = Field(
        default=music_registry.DEFAULT_MODEL, description="music generator: v2 (beat grid, hit points; the "
        "default) or v1 (event stream, kept to reproduce stored v1 jobs). A catalog keeps the model of its "
        "first backfill (flows.catalog.pinning)")
    music_checkpoint: Path | None = None
    emotion_checkpoint: Path | None = None
    clip_weights: Path | None = None
    audio_tagger_weights: Path | None = None
    asr_weights: Path | None = None

    # scene cuts
    cut_detector: Literal["adaptive", "content"] = "content"
    content_threshold: float = 27.0
    adaptive_threshold: float = 3.0
    min_scene_len_s: float = 0.5
    min_boundary_gap_s: float = 4.0

    # music
    seed: int = 0
    temperature: float = 1.0
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="nucleus sampling; default: the "
                                "music model's own (v1 0.95, v2 0.8: emsync_models/music/registry.py)")
    soundfont: Path | None = None
    sample_rate: int = 44100
    loudness_lufs: float = -16.0

    # thread budget: every library that spawns threads (PyTorch, OpenMP/BLAS, OpenCV, ONNX Runtime,
    # FluidSynth, the video decoder) gets this many per job, so jobs and neighbours don't oversubscribe
    threads: int | None = Field(default=None, ge=1, description="threads per job; default: usable cores "
                                "divided among the jobs this machine runs (host_workers x concurrency)")
    host_workers: int = Field(default=1, ge=1, description="worker processes sharing this machine's cores "
                              "(infra/prefect.sh worker sets it)")

    # batch work
    concurrency: int = 2
    allowed_roots: list[Path] = Field(default_factory=list, description="roots manifests may read from")
    lease_s: float = Field(default=600.0, gt=0, description="how long a claimed video stays claimed unrenewed")
    db_retry_window_s: float = Field(
        default=300.0, ge=0, description="how long a running flow keeps retrying a database it cannot reach"
    )
    batch_size: int = Field(default=50, ge=1, description="rows/videos per task in large fan-outs")
    score_cron: str = Field(default="0 3 * * *", description="schedule of the catalog-scoring deployment")
    score_manifest: str | None = Field(default=None, description="manifest the scheduled scoring reads")
    failure_threshold: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="a catalog run whose failed share of videos/rows exceeds this ends Failed (0: any failure)",
    )
    quarantine_after: int = Field(
        default=3, ge=0,
        description="a catalog video whose input failed this many times in a row is quarantined (0: never)",
    )

    # ops
    metrics_host: str = Field(default="127.0.0.1", description="where `emsync metrics serve` listens")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="its port (0: any free port)")
    worker_metrics_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="`python -m flows.catalog.deploy serve` also exposes the exporter's registry here (None: off)",
    )
    metrics_lookback_h: float = Field(
        default=24.0, gt=0, description="finished runs this recent seed the stage-time histograms at exporter start"
    )
    metrics_aggregate_ttl_s: float = Field(
        default=60.0, ge=0,
        description="how often (at most) the exporter recomputes the whole-catalog aggregates (scored, emotions)",
    )
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8765, ge=0, le=65535)
    dashboard_refresh_s: int = Field(default=15, ge=1, description="the dashboard page reloads itself this often")

    def resolved_threads(self, jobs_in_process: int = 1) -> int:
        """The thread budget for one job, when this process runs `jobs_in_process` jobs at once."""
        if self.threads is not None:
            return self.threads
        from emsync_models.threads import default_threads, usable_cores

        return default_threads(usable_cores(), self.host_workers * max(1, jobs_in_process))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'emsync.db'}"

    @property
    def resolved_store_dir(self) -> Path:
        return self.store_dir or self.data_dir / "objects"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def resolved_allowed_s3_sources(self) -> list[str]:
        return self.allowed_s3_sources or [f"s3://{self.s3_bucket}/{self.s3_input_prefix}"]

    @property
    def resolved_top_p(self) -> float:
        """The top-p a job samples with: the setting, else the chosen music model's own."""
        if self.top_p is not None:
            return self.top_p
        return music_registry.spec(self.music_model).top_p

    def resolved_soundfont(self) -> Path | None:
        if self.soundfont is not None:
            return self.soundfont
        return next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
