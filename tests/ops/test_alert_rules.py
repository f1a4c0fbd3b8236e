"""The alert rules and Alertmanager config, checked and unit-tested by Prometheus's own tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)")
    return path


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=INFRA)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_rules_are_valid() -> None:
    out = _run(_tool("promtool"), "check", "rules", "prometheus/rules/emsync.rules.yml")
    assert "SUCCESS: 5 rules found" in out


def test_every_alert_has_a_unit_test() -> None:
    rules = (INFRA / "prometheus" / "rules" / "emsync.rules.yml").read_text()
    tests = (INFRA / "prometheus" / "tests" / "emsync.rules.test.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")]
    assert len(alerts) == 5
    for alert in alerts:
        assert f"alertname: {alert}\n        exp_alerts:\n          -" in tests, f"{alert} is never tested firing"


def test_rule_unit_tests_pass() -> None:
    out = _run(_tool("promtool"), "test", "rules", "prometheus/tests/emsync.rules.test.yml")
    assert "SUCCESS" in out


def test_configs_are_valid() -> None:
    _run(_tool("amtool"), "check-config", "alertmanager/alertmanager.yml")
    _run(_tool("promtool"), "check", "config", "--syntax-only", "prometheus/prometheus.yml")
