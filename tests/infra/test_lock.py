"""The lock files are the environment: they must match pyproject.toml, and exactly one OpenCV provides cv2."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lock_check():
    spec = importlib.util.spec_from_file_location("lock_check", ROOT / "infra" / "lock_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def copy_of_inputs(tmp_path: Path) -> Path:
    for name in ["pyproject.toml", "requirements.lock", "requirements-dev.lock", "requirements-nodeps.lock",
                 "requirements-triton.lock", "requirements-nodeps.txt"]:
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "infra" / "lock").mkdir(parents=True)
    for name in ["overrides.txt", "bootstrap.txt"]:
        shutil.copy(ROOT / "infra" / "lock" / name, tmp_path / "infra" / "lock" / name)
    return tmp_path


def test_committed_locks_match_pyproject():
    assert _lock_check().problems(ROOT) == []


def test_a_dependency_added_without_relocking_fails_the_check(copy_of_inputs: Path):
    pyproject = copy_of_inputs / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "miditok",\n', '    "miditok",\n    "tabulate>=0.9",\n'))
    found = _lock_check().problems(copy_of_inputs)
    assert any("tabulate" in p and "not in requirements.lock" in p for p in found), found
    assert any("locked from other inputs" in p for p in found), found


def test_a_pin_outside_the_requirement_fails_even_with_a_current_fingerprint(copy_of_inputs: Path):
    lock = copy_of_inputs / "requirements.lock"
    text, n = re.subn(r"^opencv-python-headless==4[^ ]*", "opencv-python-headless==5.0.0.93", lock.read_text(),
                      flags=re.M)
    assert n == 1
    lock.write_text(text)
    found = _lock_check().problems(copy_of_inputs)
    assert any("opencv-python-headless==5.0.0.93" in p and "does not satisfy" in p for p in found), found


def test_the_installer_bootstrap_must_pin_the_locked_uv(copy_of_inputs: Path):
    check = _lock_check()
    assert check.problems(copy_of_inputs) == []
    bootstrap = copy_of_inputs / "infra" / "lock" / "bootstrap.txt"
    bootstrap.write_text(re.sub(r"^uv==\S+", "uv==0.0.1", bootstrap.read_text(), flags=re.M))
    assert any("bootstrap.txt pins another uv" in p for p in check.problems(copy_of_inputs))


def test_the_override_keeps_opencv_python_out_of_the_locks():
    for name in ["requirements.lock", "requirements-dev.lock"]:
        assert not re.search(r"^opencv-python==", (ROOT / name).read_text(), flags=re.M), name


def test_exactly_one_distribution_provides_cv2_and_it_has_the_haar_cascades():
    providers = importlib.metadata.packages_distributions().get("cv2", [])
    assert sorted(set(providers)) == ["opencv-python-headless"], providers
    assert importlib.metadata.version("opencv-python-headless").startswith("4.")
    import cv2

    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    assert not cascade.empty()


def test_every_installed_distribution_is_the_locked_version():
    pins = _lock_check().pins(ROOT / "requirements-dev.lock")
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    off = {}
    for name, version in pins.items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            off[canonicalize_name(name)] = (str(installed), str(version))
    assert off == {}, f"installed != locked: {off}"
