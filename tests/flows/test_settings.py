"""Settings in frozen groups: every flat EMSYNC_* name of the flat class still lands in its field, the
nested names work too, groups are hashable cache keys, and a bad value is one line naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from emsync_models.video.cut_config import CutConfig
from flows.settings import CutSettings, Settings, SettingsError, load_settings
from flows.storage.persist import CUT_KEYS

# Every variable the flat Settings class read, with a non-default value and where it must land now.
OLD_NAMES: dict[str, tuple[str, str, object]] = {
    "EMSYNC_DATA_DIR": ("/srv/emsync", "store.data_dir", Path("/srv/emsync")),
    "EMSYNC_DATABASE_URL": ("postgresql://h/db", "store.database_url", "postgresql://h/db"),
    "EMSYNC_OBJECT_STORE": ("s3", "store.object_store", "s3"),
    "EMSYNC_STORE_DIR": ("/srv/objects", "store.store_dir", Path("/srv/objects")),
    "EMSYNC_S3_ENDPOINT": ("minio:9000", "store.s3_endpoint", "minio:9000"),
    "EMSYNC_S3_ACCESS_KEY": ("ak", "store.s3_access_key", SecretStr("ak")),
    "EMSYNC_S3_SECRET_KEY": ("sk", "store.s3_secret_key", SecretStr("sk")),
    "EMSYNC_S3_BUCKET": ("media", "store.s3_bucket", "media"),
    "EMSYNC_S3_SECURE": ("true", "store.s3_secure", True),
    "EMSYNC_S3_REGION": ("eu-1", "store.s3_region", "eu-1"),
    "EMSYNC_S3_INPUT_PREFIX": ("in/", "store.s3_input_prefix", "in/"),
    "EMSYNC_ALLOWED_S3_SOURCES": ('["s3://a/b/"]', "store.allowed_s3_sources", ("s3://a/b/",)),
    "EMSYNC_ALLOWED_ROOTS": ('["/m1", "/m2"]', "store.allowed_roots", (Path("/m1"), Path("/m2"))),
    "EMSYNC_MODEL_BACKEND": ("triton", "models.model_backend", "triton"),
    "EMSYNC_TRITON_URL": ("triton:8000", "models.triton_url", "triton:8000"),
    "EMSYNC_TRITON_TIMEOUT_S": ("12.5", "models.triton_timeout_s", 12.5),
    "EMSYNC_TRITON_RETRIES": ("7", "models.triton_retries", 7),
    "EMSYNC_MUSIC_MODEL": ("v1", "models.music_model", "v1"),
    "EMSYNC_MUSIC_CHECKPOINT": ("/c/m.pt", "models.music_checkpoint", Path("/c/m.pt")),
    "EMSYNC_EMOTION_CHECKPOINT": ("/c/e.pt", "models.emotion_checkpoint", Path("/c/e.pt")),
    "EMSYNC_CLIP_WEIGHTS": ("/c/clip", "models.clip_weights", Path("/c/clip")),
    "EMSYNC_AUDIO_TAGGER_WEIGHTS": ("/c/tag", "models.audio_tagger_weights", Path("/c/tag")),
    "EMSYNC_ASR_WEIGHTS": ("/c/asr", "models.asr_weights", Path("/c/asr")),
    "EMSYNC_CUT_DETECTOR": ("adaptive", "cuts.cut_detector", "adaptive"),
    "EMSYNC_CONTENT_THRESHOLD": ("30", "cuts.content_threshold", 30.0),
    "EMSYNC_ADAPTIVE_THRESHOLD": ("2.5", "cuts.adaptive_threshold", 2.5),
    "EMSYNC_MIN_SCENE_LEN_S": ("0.75", "cuts.min_scene_len_s", 0.75),
    "EMSYNC_MIN_BOUNDARY_GAP_S": ("6", "cuts.min_boundary_gap_s", 6.0),
    "EMSYNC_SEED": ("42", "music.seed", 42),
    "EMSYNC_TEMPERATURE": ("0.9", "music.temperature", 0.9),
    "EMSYNC_TOP_P": ("0.7", "music.top_p", 0.7),
    "EMSYNC_SOUNDFONT": ("/sf/x.sf2", "music.soundfont", Path("/sf/x.sf2")),
    "EMSYNC_SAMPLE_RATE": ("48000", "music.sample_rate", 48000),
    "EMSYNC_LOUDNESS_LUFS": ("-14", "music.loudness_lufs", -14.0),
    "EMSYNC_THREADS": ("3", "batch.threads", 3),
    "EMSYNC_HOST_WORKERS": ("2", "batch.host_workers", 2),
    "EMSYNC_CONCURRENCY": ("4", "batch.concurrency", 4),
    "EMSYNC_LEASE_S": ("90", "batch.lease_s", 90.0),
    "EMSYNC_DB_RETRY_WINDOW_S": ("30", "batch.db_retry_window_s", 30.0),
    "EMSYNC_BATCH_SIZE": ("10", "batch.batch_size", 10),
    "EMSYNC_SCORE_CRON": ("0 4 * * *", "batch.score_cron", "0 4 * * *"),
    "EMSYNC_SCORE_MANIFEST": ("s3://m/x.csv", "batch.score_manifest", "s3://m/x.csv"),
    "EMSYNC_FAILURE_THRESHOLD": ("0.25", "batch.failure_threshold", 0.25),
    "EMSYNC_QUARANTINE_AFTER": ("5", "batch.quarantine_after", 5),
    "EMSYNC_METRICS_HOST": ("0.0.0.0", "ops.metrics_host", "0.0.0.0"),
    "EMSYNC_METRICS_PORT": ("9999", "ops.metrics_port", 9999),
    "EMSYNC_WORKER_METRICS_PORT": ("9465", "ops.worker_metrics_port", 9465),
    "EMSYNC_METRICS_LOOKBACK_H": ("6", "ops.metrics_lookback_h", 6.0),
    "EMSYNC_METRICS_AGGREGATE_TTL_S": ("5", "ops.metrics_aggregate_ttl_s", 5.0),
    "EMSYNC_DASHBOARD_HOST": ("0.0.0.0", "ops.dashboard_host", "0.0.0.0"),
    "EMSYNC_DASHBOARD_PORT": ("8000", "ops.dashboard_port", 8000),
    "EMSYNC_DASHBOARD_REFRESH_S": ("30", "ops.dashboard_refresh_s", 30),
}


def _get(settings: Settings, dotted: str) -> object:
    group, field = dotted.split(".")
    return getattr(getattr(settings, group), field)


@pytest.mark.parametrize("name", sorted(OLD_NAMES))
def test_every_flat_name_lands_in_its_field(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, dotted, expected = OLD_NAMES[name]
    monkeypatch.setenv(name, raw)
    settings = load_settings()
    assert _get(settings, dotted) == expected
    default = Settings.model_construct()
    assert _get(default, dotted) != expected, "the test value must differ from the default"


def test_all_flat_names_at_once_and_from_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    half = sorted(OLD_NAMES)
    env_names, file_names = half[::2], half[1::2]
    for name in env_names:
        monkeypatch.setenv(name, OLD_NAMES[name][0])
    for name in file_names:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("".join(f"{name}='{OLD_NAMES[name][0]}'\n" for name in file_names))
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    for name, (_, dotted, expected) in OLD_NAMES.items():
        assert _get(settings, dotted) == expected, name


def test_nested_names_and_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMSYNC_BATCH__LEASE_S", "42")
    monkeypatch.setenv("EMSYNC_CONCURRENCY", "3")
    settings = load_settings()
    assert (settings.batch.lease_s, settings.batch.concurrency) == (42.0, 3)
    assert Settings(concurrency=1).batch.concurrency == 1  # an argument wins over the environment
    assert Settings(concurrency=1).batch.lease_s == 42.0  # and keeps the group's other values


def test_groups_are_frozen_hashable_cache_keys() -> None:
    a, b = Settings(triton_retries=2), Settings(triton_retries=2)
    assert hash(a.models) == hash(b.models) and a.models == b.models
    # the music model is part of the client's key
    assert Settings(music_model="v1").models != Settings(music_model="v2").models
    with pytest.raises(ValidationError):
        a.models.triton_retries = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="batch.lease_s"):
        _ = a.lease_s  # code written against the flat class gets a pointer, not a silent default


def test_cut_defaults_have_one_home() -> None:
    cuts, config = CutSettings(), CutConfig()
    assert cuts.config() == config
    assert CUT_KEYS == tuple(CutSettings.model_fields)


@pytest.mark.parametrize(("name", "raw", "problem"), [
    ("EMSYNC_LEASE_S", "-1", "greater than 0"),
    ("EMSYNC_CONCURRENCY", "many", "valid integer"),
    ("EMSYNC_MUSIC_MODEL", "v9", "'v1' or 'v2'"),
    ("EMSYNC_STYLE", "dubstep", "unknown style; choose from ballad"),
    ("EMSYNC_INSTRUMENTS", "piano,kazoo", "kazoo: unknown instrument"),
    ("EMSYNC_BATCH__LEASE_S", "0", "greater than 0"),
])
def test_a_bad_value_is_one_line_naming_the_variable(name: str, raw: str, problem: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(name.replace("BATCH__", "") + ": ") and problem in message
    assert "\n" not in message


def test_cli_exits_2_with_one_line_for_a_bad_setting(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EMSYNC_LEASE_S": "nan-ish"}
    done = subprocess.run([str(Path(sys.executable).parent / "emsync"), "catalog", "status"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: EMSYNC_LEASE_S: Input should be a valid number, unable to parse string as a "
                     "number (got 'nan-ish')"]


def test_prefect_yaml_schedule_is_the_settings_default() -> None:
    # prefect.yaml cannot read a Python default; flows/catalog/deploy.py serves settings' own, so the
    # two ways to deploy must not drift apart.
    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
    crons = [s["cron"] for d in spec["deployments"] for s in d.get("schedules") or []]
    assert crons == [Settings().batch.score_cron]


ROOT = Path(__file__).resolve().parents[2]


def test_every_emsync_variable_the_repository_names_is_known() -> None:
    # A name the scripts or docs use that neither a setting nor OTHER_VARIABLES holds would be warned
    # about as a typo at every CLI start.
    import re

    from flows.settings import OTHER_VARIABLES, setting_names

    suffixes = {".py", ".sh", ".yaml", ".yml", ".md", ".toml", ".example"}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    named: set[str] = set()
    for rel in tracked.splitlines():
        path = ROOT / rel
        if (path.suffix in suffixes or path.name in {"Makefile", "Dockerfile"}) and path.is_file() \
                and path != Path(__file__).resolve():  # this file's typos are on purpose
            named |= set(re.findall(r"EMSYNC_[A-Z0-9_]*[A-Z0-9]", path.read_text(errors="replace")))
    known = setting_names() | OTHER_VARIABLES
    # a prefix written as a family (EMSYNC_TEST_*, EMSYNC_MUSIC__…) is no variable of its own
    unknown = sorted(n for n in named - known if not any(k.startswith(n + "_") for k in known))
    assert unknown == [], unknown


def test_a_mistyped_variable_is_named_with_the_setting_it_looks_like(tmp_path: Path) -> None:
    from flows.settings import unknown_variables

    assert unknown_variables({"EMSYNC_ALLOWED_SOURCES": "x", "EMSYNC_LEASE_S": "5", "HOME": "/"}) == [
        ("EMSYNC_ALLOWED_SOURCES", "EMSYNC_ALLOWED_S3_SOURCES")]
    assert unknown_variables({"EMSYNC_MUSIC__DUCK_DB": "-6", "EMSYNC_SMOKE_KEEP": "1"}) == []
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EMSYNC_ALOWED_ROOTS": '["/media"]'}
    done = subprocess.run([str(Path(sys.executable).parent / "emsync"), "soundtrack", "nope.mp4", "--out", "x.mp4"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2  # the command itself goes on: a warning, not a refusal
    warned = [line for line in done.stderr.splitlines() if "EMSYNC_ALOWED_ROOTS" in line]
    assert len(warned) == 1 and "did you mean EMSYNC_ALLOWED_ROOTS?" in warned[0], done.stderr
