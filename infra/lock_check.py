"""Checks that the committed lock files still describe pyproject.toml (run by infra/test.sh and the tests).

Two checks, both needed: the inputs' fingerprint (any edit of the dependency lists, the overrides or the
no-deps list means "re-lock") and, per requirement, that the lock pins a version the requirement admits
(so a fingerprint updated by hand cannot hide a missing package).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"runtime": "requirements.lock", "dev": "requirements-dev.lock", "nodeps": "requirements-nodeps.lock",
         "triton": "requirements-triton.lock"}
FINGERPRINT_RE = re.compile(r"^# inputs-sha256: ([0-9a-f]{64})$", re.M)
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]


def lock_inputs(root: Path) -> dict[str, list[str]]:
    """What the locks are computed from, in a canonical order."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return {
        "runtime": sorted(project.get("dependencies", [])),
        "dev": sorted(project.get("optional-dependencies", {}).get("dev", [])),
        "triton": sorted(project.get("optional-dependencies", {}).get("triton", [])),
        "overrides": sorted(_lines(root / "infra" / "lock" / "overrides.txt")),
        "nodeps": sorted(_lines(root / "requirements-nodeps.txt")),
    }


def fingerprint(root: Path) -> str:
    return hashlib.sha256(json.dumps(lock_inputs(root), sort_keys=True).encode()).hexdigest()


def pins(lock: Path) -> dict[str, Version]:
    return {canonicalize_name(n): Version(v) for n, v in PIN_RE.findall(lock.read_text())}


def problems(root: Path = ROOT) -> list[str]:
    """Every way the locks disagree with their inputs; empty when they agree."""
    out: list[str] = []
    for name in LOCKS.values():
        if not (root / name).is_file():
            out.append(f"{name} is missing: run `make lock`")
    if out:
        return out
    want = fingerprint(root)
    for name in LOCKS.values():
        found = FINGERPRINT_RE.search((root / name).read_text())
        if not found or found.group(1) != want:
            out.append(f"{name} was locked from other inputs than pyproject.toml / requirements-nodeps.txt now hold")
    inputs = lock_inputs(root)
    # The dev extra names the triton extra (emsync[triton]): its own requirements are checked in both.
    own = [r for r in inputs["dev"] if canonicalize_name(Requirement(r).name) != "emsync"]
    checks = [("runtime", inputs["runtime"]), ("dev", inputs["runtime"] + own + inputs["triton"]),
              ("nodeps", inputs["nodeps"]), ("triton", inputs["runtime"] + inputs["triton"])]
    for kind, reqs in checks:
        pinned = pins(root / LOCKS[kind])
        for text in reqs:
            req = Requirement(text)
            version = pinned.get(canonicalize_name(req.name))
            if version is None:
                out.append(f"{req.name} (from {text!r}) is not in {LOCKS[kind]}")
            elif not req.specifier.contains(version, prereleases=True):
                out.append(f"{req.name}=={version} in {LOCKS[kind]} does not satisfy {text!r}")
    bootstrap = root / "infra" / "lock" / "bootstrap.txt"
    if not bootstrap.is_file() or pins(bootstrap).get("uv") != pins(root / LOCKS["dev"]).get("uv"):
        out.append("infra/lock/bootstrap.txt pins another uv than requirements-dev.lock")
    dropped = {canonicalize_name(Requirement(o).name) for o in inputs["overrides"]}
    for kind in ("runtime", "dev", "triton"):
        for name in dropped & set(pins(root / LOCKS[kind])):
            out.append(f"{name} is in {LOCKS[kind]} although infra/lock/overrides.txt excludes it")
    return out


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--fingerprint":
        print(fingerprint(ROOT))
        return 0
    found = problems()
    for p in found:
        print(f"lock check: {p}", file=sys.stderr)
    if found:
        print("lock check: the locks are stale; run `make lock` and commit the result", file=sys.stderr)
        return 1
    print("lock check: requirements*.lock match pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
