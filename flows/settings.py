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

    # models
    model_backend: Literal["inprocess", "triton"] = "inprocess"
    triton_url: str = "127.0.0.1:8000"
    triton_timeout_s: float = 300.0
    triton_retries: int = 3
    music_model: Literal["v1", "v2"] = Field(
        default="v1", description="music generator: v1 (event stream) or v2 (beat grid, hit points)")
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
    top_p: float = 0.95
    soundfont: Path | None = None
    sample_rate: int = 44100
    loudness_lufs: float = -16.0

    # batch work
    concurrency: int = 2
    allowed_roots: list[Path] = Field(default_factory=list, description="roots manifests may read from")
    lease_s: float = Field(default=600.0, gt=0, description="how long a claimed video stays claimed unrenewed")
    batch_size: int = Field(default=50, ge=1, description="rows/videos per task in large fan-outs")
    score_cron: str = Field(default="0 3 * * *", description="schedule of the catalog-scoring deployment")
    score_manifest: str | None = Field(default=None, description="manifest the scheduled scoring reads")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'emsync.db'}"

    @property
    def resolved_store_dir(self) -> Path:
        return self.store_dir or self.data_dir / "objects"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def resolved_soundfont(self) -> Path | None:
        if self.soundfont is not None:
            return self.soundfont
        return next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
