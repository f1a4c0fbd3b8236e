"""The one typed settings object. No other module reads environment variables.

Values come from `EMSYNC_*` environment variables or a `.env` file in the working directory; every
real server sits behind a setting whose default is an embedded component (SQLite, a local folder,
in-process models), so a fresh machine needs no configuration at all.

Settings come in frozen groups (`settings.store`, `.models`, `.cuts`, `.music`, `.batch`, `.limits`, `.ops`), each
hashable, so a cache can key on the group it depends on. A field is set from the environment by its
flat name, `EMSYNC_<FIELD>` (`EMSYNC_LEASE_S`), or by its nested one, `EMSYNC_<GROUP>__<FIELD>`
(`EMSYNC_BATCH__LEASE_S`); field names are unique across groups so the flat names stay unambiguous.
`Settings(lease_s=...)` routes flat keyword arguments the same way.

A constraint on a value is its field's `Field(...)` (or an `Annotated` type); a value that breaks one
becomes `SettingsError`, one line naming the variable and the problem (`load_settings`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import (
    SettingsError as _SourceError,
)

from emsync_models.errors import InputError
from emsync_models.video.cut_config import CutConfig

ENV_PREFIX = "EMSYNC_"

# Debian's General MIDI SoundFonts, best first: the first one present is used when none is set.
# MuseScore General (Lite, 40 MB, sf3) sounds far less synthetic than TimGM6mb, which stays as fallback.
KNOWN_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
)

_CUTS = CutConfig()  # the cut defaults live with the detector

# --- The music package's defaults: the one place settings reads them (the torch-free registry). ---
from emsync_models.music import registry as music_registry  # noqa: E402 - kept beside its kin
from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S  # noqa: E402


def model_default_top_p(music_model: str) -> float:
    """The music model's own nucleus setting, used where EMSYNC_TOP_P is unset."""
    return music_registry.spec(music_model).top_p
# --- end of the music package's defaults ---


class SettingsError(InputError):
    """A setting's value is bad: one line, `EMSYNC_<FIELD>: problem`."""


class _Group(BaseModel):
    """A frozen, hashable group of settings (the cache key of whatever depends on it)."""

    # Every number a setting holds is finite: NaN passes no range check (every comparison is false)
    # and turns into noise, hangs or late failures far from the variable that caused it.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StoreSettings(_Group):
    """Where state lives and where inputs may be read from."""

    data_dir: Path = Field(default=Path.home() / ".emsync", description="where embedded state lives")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    object_store: Literal["local", "s3"] = "local"
    store_dir: Path | None = Field(default=None, description="local object folder; default data_dir/objects")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "emsync"
    s3_secure: bool = False
    s3_region: str | None = None
    s3_input_prefix: str = Field(default="inputs/", description="where in s3_bucket catalog videos may live")
    allowed_s3_sources: tuple[str, ...] = Field(
        default=(),
        description="s3://bucket/prefix/ locations manifests may read from; default s3://<s3_bucket>/<s3_input_prefix>",
    )
    allowed_roots: tuple[Path, ...] = Field(default=(), description="roots manifests may read from")

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
        return list(self.allowed_s3_sources) or [f"s3://{self.s3_bucket}/{self.s3_input_prefix}"]


class ModelSettings(_Group):
    """Which models run, and where (the inference client's whole configuration)."""

    model_backend: Literal["inprocess", "triton"] = "inprocess"
    triton_url: str = "127.0.0.1:8000"
    triton_timeout_s: float = Field(default=300.0, gt=0)
    triton_retries: int = Field(default=3, ge=0, le=100)
    music_model: Literal["v1", "v2"] = Field(
        default=music_registry.DEFAULT_MODEL, description="music generator: v2 (beat grid, hit points; the "
        "default) or v1 (event stream, kept to reproduce stored v1 jobs). A catalog keeps the model of its "
        "first backfill (flows.catalog.pinning)")
    music_checkpoint: Path | None = None
    emotion_checkpoint: Path | None = None
    clip_weights: Path | None = None
    audio_tagger_weights: Path | None = None
    asr_weights: Path | None = None


class CutSettings(_Group):
    """What moves scene cuts (every field is part of a job's identity)."""

    cut_detector: Literal["adaptive", "content"] = _CUTS.detector
    # PySceneDetect's content score is a mean HSV/edge difference in 0-255; the adaptive one a ratio.
    content_threshold: float = Field(default=_CUTS.content_threshold, gt=0, le=255)
    adaptive_threshold: float = Field(default=_CUTS.adaptive_threshold, gt=0, le=255)
    min_scene_len_s: float = Field(default=_CUTS.min_scene_len_s, ge=0, le=3600)
    min_boundary_gap_s: float = Field(default=DEFAULT_MIN_GAP_S, ge=0, le=3600)

    def config(self) -> CutConfig:
        return CutConfig(detector=self.cut_detector, content_threshold=self.content_threshold,
                         adaptive_threshold=self.adaptive_threshold, min_scene_len_s=self.min_scene_len_s)


class MusicSettings(_Group):
    """How music is sampled and rendered."""

    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="the database keeps it as a signed 64-bit integer")
    temperature: float = Field(default=1.0, gt=0, le=10, description="sampling temperature (1: the model's own)")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="nucleus sampling; default: the "
                                "music model's own (v1 0.95, v2 0.8: emsync_models/music/registry.py)")
    soundfont: Path | None = None
    sample_rate: int = Field(default=44100, ge=8000, le=96000, description="Hz; FluidSynth renders 8-96 kHz")
    loudness_lufs: float = Field(default=-16.0, ge=-70, le=-1, description="integrated loudness target (LUFS)")
    # With the original audio kept (--mix-original), the music ducks under speech by this much.
    duck_db: float = Field(default=-15.0, ge=-40, le=0, description="music gain under speech (dB) when the "
                           "original audio is kept; 0 turns ducking off")
    duck_carve_db: float = Field(default=-12.0, ge=-40, le=0, description="the music's speech band (150 Hz-6 kHz) "
                                 "goes this much further down under speech; 0: the whole music ducks alike")
    duck_attack_ms: float = Field(default=30.0, ge=0, le=500, description="ramp down, ending where speech starts")
    duck_release_ms: float = Field(default=80.0, ge=0, le=2000, description="ramp back up after speech ends")
    style: str | None = Field(default=None, description="music v2's style family (`emsync styles`); default: "
                              "chosen per section from valence/arousal")
    instruments: str | None = Field(default=None, description="the instrument palette, e.g. 'piano,strings' or "
                                    "'no drums' (GM families or program names); default: the model's choice")

    @field_validator("style")
    @classmethod
    def _known_style(cls, value: str | None) -> str | None:
        from emsync_models.music.controls import check_style

        try:
            return check_style(value)
        except InputError as exc:
            raise ValueError(exc.problem) from None

    @field_validator("instruments")
    @classmethod
    def _known_instruments(cls, value: str | None) -> str | None:
        from emsync_models.music.controls import canonical_spec, parse_palette

        try:
            return canonical_spec(parse_palette(value))
        except InputError as exc:
            raise ValueError(f"{exc.subject}: {exc.problem}") from None

    def resolved_soundfont(self) -> Path | None:
        if self.soundfont is not None:
            return self.soundfont
        return next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)


class BatchSettings(_Group):
    """Catalog work: how many jobs, how many threads each, leases, retries, the schedule."""

    # thread budget: every library that spawns threads (PyTorch, OpenMP/BLAS, OpenCV, ONNX Runtime,
    # FluidSynth, the video decoder) gets this many per job, so jobs and neighbours don't oversubscribe
    threads: int | None = Field(default=None, ge=1, description="threads per job; default: usable cores "
                                "divided among the jobs this machine runs (host_workers x concurrency)")
    host_workers: int = Field(default=1, ge=1, description="worker processes sharing this machine's cores "
                              "(infra/prefect.sh worker sets it)")
    concurrency: int = Field(default=2, ge=1, le=256, description="videos (or row batches) in flight at once")
    lease_s: float = Field(default=600.0, gt=0, description="how long a claimed video stays claimed unrenewed")
    db_retry_window_s: float = Field(
        default=300.0, ge=0, description="how long a running flow keeps retrying a database it cannot reach")
    batch_size: int = Field(default=50, ge=1, description="rows/videos per task in large fan-outs")
    score_cron: str = Field(default="0 3 * * *", description="schedule of the catalog-scoring deployment")
    score_manifest: str | None = Field(default=None, description="manifest the scheduled scoring reads")
    failure_threshold: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="a catalog run whose failed share of videos/rows exceeds this ends Failed (0: any failure)")
    quarantine_after: int = Field(
        default=3, ge=0,
        description="a catalog video whose input failed this many times in a row is quarantined (0: never)")


class LimitSettings(_Group):
    """What one job may be asked to decode, checked from the headers before any frame is
    (emsync_models.video.probe.MediaLimits); the defaults admit a 3-hour film in 4K at 30 fps."""

    max_duration_s: float = Field(default=3 * 3600.0, gt=0, description="longest video accepted, in seconds")
    max_pixels: int = Field(default=7680 * 4320, ge=4, description="largest frame, width x height (8K UHD)")
    max_pixel_rate: float = Field(default=7680 * 4320 * 30.0, gt=0,
                                  description="width x height x frames per second (8K at 30 fps)")
    max_total_pixels: float = Field(default=3840 * 2160 * 30.0 * 3 * 3600, gt=0,
                                    description="width x height x fps x duration: all a job decodes")


class OpsSettings(_Group):
    """Metrics exporter and dashboard."""

    metrics_host: str = Field(default="127.0.0.1", description="where `emsync metrics serve` listens")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="its port (0: any free port)")
    worker_metrics_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="`python -m flows.catalog.deploy serve` also exposes the exporter's registry here (None: off)")
    metrics_lookback_h: float = Field(
        default=24.0, gt=0, description="finished runs this recent seed the stage-time histograms at exporter start")
    metrics_aggregate_ttl_s: float = Field(
        default=60.0, ge=0,
        description="how often (at most) the exporter recomputes the whole-catalog aggregates (scored, emotions)")
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8765, ge=0, le=65535)
    dashboard_refresh_s: int = Field(default=15, ge=1, description="the dashboard page reloads itself this often")


GROUPS: dict[str, type[_Group]] = {"store": StoreSettings, "models": ModelSettings, "cuts": CutSettings,
                                   "music": MusicSettings, "batch": BatchSettings, "limits": LimitSettings,
                                   "ops": OpsSettings}
# flat field name -> its group; the flat names are today's EMSYNC_<FIELD> variables
FIELD_GROUP: dict[str, str] = {name: group for group, cls in GROUPS.items() for name in cls.model_fields}
assert len(FIELD_GROUP) == sum(len(cls.model_fields) for cls in GROUPS.values()), "field names must be unique"


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


class _FlatBase(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")


# Only a shape for `_FlatEnvSource`: every group's fields under today's flat names, unconstrained and
# unset by default, so the source parses them (lists as JSON, like any settings source) and the groups
# validate them.
_FlatNames: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "_FlatNames", __base__=_FlatBase,
    **{name: (GROUPS[group].model_fields[name].annotation | None, None) for name, group in FIELD_GROUP.items()},
)


class _FlatEnvSource(PydanticBaseSettingsSource):
    """`EMSYNC_<FIELD>` from the environment and `.env`, placed into the field's group."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: Any) -> None:  # noqa: ANN401 - pydantic's type
        super().__init__(settings_cls)
        self._sources = (DotEnvSettingsSource(_FlatNames, env_file=env_file), EnvSettingsSource(_FlatNames))

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads every flat name at once

    def __call__(self) -> dict[str, Any]:
        nested: dict[str, dict[str, Any]] = {}
        for source in self._sources:  # the environment after .env, so it wins
            for name, value in source().items():
                if name in FIELD_GROUP and value is not None:
                    nested.setdefault(FIELD_GROUP[name], {})[name] = value
        return nested


class _GroupsOnly(PydanticBaseSettingsSource):
    """The nested names from `.env`; pydantic-settings' dotenv source also hands back every other
    EMSYNC_* line as a top-level extra, which `_FlatEnvSource` has already read (and parsed)."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError

    def __call__(self) -> dict[str, Any]:
        return {key: value for key, value in self._source().items() if key in GROUPS}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", env_file=".env",
                                      extra="ignore", frozen=True)

    store: StoreSettings = StoreSettings()
    models: ModelSettings = ModelSettings()
    cuts: CutSettings = CutSettings()
    music: MusicSettings = MusicSettings()
    batch: BatchSettings = BatchSettings()
    limits: LimitSettings = LimitSettings()
    ops: OpsSettings = OpsSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # first wins: arguments, nested names (EMSYNC_BATCH__LEASE_S), flat names (EMSYNC_LEASE_S), .env
        flat = _FlatEnvSource(settings_cls, settings_cls.model_config.get("env_file"))
        return init_settings, env_settings, flat, _GroupsOnly(settings_cls, dotenv_settings), file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, data: Any) -> Any:  # noqa: ANN401 - pydantic's raw input
        """`Settings(lease_s=1)` sets `batch.lease_s`; the flat argument wins over the environment."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in [key for key in data if key in FIELD_GROUP]:
            group = FIELD_GROUP[name]
            current = data.get(group) or {}
            if isinstance(current, BaseModel):
                current = current.model_dump()
            data[group] = {**current, name: data.pop(name)}
        return data

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        if name in FIELD_GROUP:  # a clear pointer for code written against the flat class
            raise AttributeError(f"Settings.{name} moved to Settings.{FIELD_GROUP[name]}.{name}")
        return super().__getattr__(name)  # type: ignore[misc]

    def resolved_threads(self, jobs_in_process: int = 1) -> int:
        """The thread budget for one job, when this process runs `jobs_in_process` jobs at once."""
        if self.batch.threads is not None:
            return self.batch.threads
        from emsync_models.threads import default_threads, usable_cores

        return default_threads(usable_cores(), self.batch.host_workers * max(1, jobs_in_process))

    @property
    def resolved_top_p(self) -> float:
        """The top-p a job samples with: the setting, else the chosen music model's own."""
        return self.music.top_p if self.music.top_p is not None else model_default_top_p(self.models.music_model)


def _one_line(exc: ValidationError) -> SettingsError:
    """The first problem as `EMSYNC_<FIELD>: message` (the flat name: the one documented)."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    field = next((part for part in reversed(loc) if part in FIELD_GROUP), None)
    subject = env_name(field) if field else env_name("__".join(loc) or "settings")
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    if field and GROUPS[FIELD_GROUP[field]].model_fields[field].annotation is SecretStr:
        shown = ""  # never echo a secret
    return SettingsError(subject, f"{error['msg']}{shown}")


def load_settings(**overrides: Any) -> Settings:  # noqa: ANN401
    """Settings from the environment (and `overrides`); a bad value raises `SettingsError`, one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _one_line(exc) from None
    except _SourceError as exc:  # a value the source could not even parse (a list that is not JSON)
        message = str(exc)
        field = next((name for name in FIELD_GROUP if f'"{name}"' in message or f"'{name}'" in message), None)
        raise SettingsError(env_name(field) if field else "EMSYNC_*", "could not parse the value") from None


# EMSYNC_* variables that are not settings: read by infra/*.sh, the images, the smoke test, the test
# servers and the CLI's logging options (tests/test_settings.py keeps this list whole).
OTHER_VARIABLES = frozenset({
    "EMSYNC_ALERTMANAGER_BIN", "EMSYNC_BASE_IMAGE_NAME", "EMSYNC_BUILD_LAYERS", "EMSYNC_INFRA_DIR",
    "EMSYNC_LOG_FORMAT", "EMSYNC_LOG_LEVEL", "EMSYNC_PG_DB", "EMSYNC_PG_DIR", "EMSYNC_PG_USER",
    "EMSYNC_PODMAN_DIR", "EMSYNC_PREFECT_DIR", "EMSYNC_PREFECT_UI", "EMSYNC_PROMETHEUS_BIN",
    "EMSYNC_PROMETHEUS_DIR", "EMSYNC_PROMETHEUS_INTERVAL", "EMSYNC_PROMETHEUS_TARGETS", "EMSYNC_REGISTRY",
    "EMSYNC_S3_DIR", "EMSYNC_SMOKE_BUILD", "EMSYNC_SMOKE_KEEP", "EMSYNC_SMOKE_MUSIC_MODEL", "EMSYNC_SMOKE_VIDEOS",
    "EMSYNC_TEST_ALERTMANAGER_URL", "EMSYNC_TEST_ALERT_WEBHOOK_URL", "EMSYNC_TEST_POSTGRES_URL",
    "EMSYNC_TEST_PROMETHEUS_URL", "EMSYNC_TEST_S3_ENDPOINT", "EMSYNC_TEST_TRITON", "EMSYNC_TEST_TRITON_METRICS_URL",
    "EMSYNC_TEST_TRITON_URL", "EMSYNC_TRITONSERVER", "EMSYNC_TRITON_ADDRESS", "EMSYNC_TRITON_DIR",
    "EMSYNC_TRITON_GRPC_PORT", "EMSYNC_TRITON_HTTP_PORT", "EMSYNC_TRITON_METRICS_PORT",
    "EMSYNC_TRITON_METRICS_URL", "EMSYNC_TRITON_READY_TIMEOUT_S", "EMSYNC_TRITON_REPOSITORY",
})


def setting_names() -> frozenset[str]:
    """Every variable a setting is read from: its flat and its nested name."""
    return frozenset({env_name(field) for field in FIELD_GROUP}
                     | {f"{ENV_PREFIX}{group.upper()}__{field.upper()}" for field, group in FIELD_GROUP.items()})


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """`EMSYNC_*` names in the environment that nothing reads (a typo is otherwise silently ignored: a
    mistyped allow-list would leave the default in force), each with the closest setting's name."""
    settings = setting_names()
    known, candidates = settings | OTHER_VARIABLES, sorted(settings)
    out: list[tuple[str, str | None]] = []
    for name in sorted(os.environ if environ is None else environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper not in known:
            close = difflib.get_close_matches(upper, candidates, n=1, cutoff=0.6)
            out.append((name, close[0] if close else None))
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
