"""The alert rules and Alertmanager config, checked and unit-tested by Prometheus's own tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[3] / "infra"
REPO = INFRA.parent


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
    assert "SUCCESS: 8 rules found" in out


def test_every_alert_has_a_unit_test() -> None:
    groups = yaml.safe_load((INFRA / "prometheus" / "rules" / "emsync.rules.yml").read_text())["groups"]
    alerts = [rule["alert"] for group in groups for rule in group["rules"]]
    tests = yaml.safe_load((INFRA / "prometheus" / "tests" / "emsync.rules.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    assert len(alerts) == 8
    for alert in alerts:
        assert any(c["alertname"] == alert and c["exp_alerts"] for c in cases), f"{alert} is never tested firing"
        assert any(c["alertname"] == alert and not c["exp_alerts"] for c in cases), f"{alert} is never tested quiet"


def test_every_rule_links_a_runbook_in_the_repository() -> None:
    groups = yaml.safe_load((INFRA / "prometheus" / "rules" / "emsync.rules.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    for rule in rules:
        runbook = REPO / rule["annotations"]["runbook_url"]
        assert runbook.is_file(), f"{rule['alert']}: no runbook at {runbook}"
        assert runbook.read_text().startswith(f"# {rule['alert']} ({rule['labels']['severity']})")


def test_rule_unit_tests_pass() -> None:
    out = _run(_tool("promtool"), "test", "rules", "prometheus/tests/emsync.rules.test.yml")
    assert "SUCCESS" in out


def test_configs_are_valid() -> None:
    out = _run(_tool("amtool"), "check-config", "alertmanager/alertmanager.yml")
    assert "1 receivers" in out and "1 inhibit rules" in out
    _run(_tool("promtool"), "check", "config", "--syntax-only", "prometheus/prometheus.yml")
