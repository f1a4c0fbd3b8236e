"""Failure thresholds, exit codes and progress events (no servers)."""

from __future__ import annotations

import pytest

from flows.cli.ops import print_progress
from flows.ops.outcome import EXIT_OK, EXIT_SOME_FAILED, exceeds_threshold, exit_code_for, failed_share
from flows.ops.progress import ProgressEvent, RunProgress, eta_seconds, listening


@pytest.mark.parametrize(
    ("failed", "total", "threshold", "expected"),
    [
        (0, 5, 0.0, False),  # nothing failed: never over
        (1, 5, 0.0, True),  # the default: any failure fails the run
        (1, 5, 0.2, False),  # exactly at the threshold is not over it
        (2, 5, 0.2, True),
        (0, 0, 0.0, False),  # a no-op run
    ],
)
def test_threshold(failed: int, total: int, threshold: float, expected: bool) -> None:
    assert exceeds_threshold(failed, total, threshold) is expected


def test_failed_share_and_exit_codes() -> None:
    assert failed_share(2, 5) == pytest.approx(0.4)
    assert failed_share(0, 0) == 0.0
    assert exit_code_for({"failures": []}) == EXIT_OK
    assert exit_code_for({"failures": [{"where": "video 3"}]}) == EXIT_SOME_FAILED == 3


def test_eta_follows_the_mean_pace() -> None:
    assert eta_seconds(0, 10, 5.0) is None
    assert eta_seconds(2, 10, 10.0) == pytest.approx(40.0)
    assert eta_seconds(10, 10, 50.0) == 0.0


def test_run_progress_publishes_each_step_with_the_current_video(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.ops.progress

    monkeypatch.setattr(flows.ops.progress, "PUBLISH_EVERY_S", 0.0)  # every step, for this test
    events: list[ProgressEvent] = []
    with listening(events.append):
        progress = RunProgress("backfill", "films", 3, {"music": "abc"})
        progress.started("video 1")
        progress.started("video 2")
        progress.finished("video 1", ok=True)
        progress.finished("video 2", ok=False)
    assert [(e.done, e.failed, e.current) for e in events] == [
        (0, 0, None), (0, 0, "video 1"), (0, 0, "video 2"), (1, 0, "video 2"), (2, 1, None),
    ]
    last = events[-1]
    assert last.total == 3 and last.model_versions == {"music": "abc"}
    assert last.line().startswith("backfill films: 2 of 3 (1 failed), elapsed ")
    assert "ETA" in last.line()


def test_run_progress_publishes_at_most_once_a_second_and_always_the_end() -> None:
    """Each publish is a Prefect API call and a printed line: 10,000 rows must not make 10,000 of them."""
    events: list[ProgressEvent] = []
    with listening(events.append):
        progress = RunProgress("ingest", "big", 10_000)
        for i in range(10_000):
            progress.started(f"row {i}")
            progress.finished(f"row {i}", ok=True)
    assert len(events) <= 3
    assert (events[0].done, events[-1].done) == (0, 10_000)


def test_plain_progress_lines_off_a_terminal(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.ops.progress

    monkeypatch.setattr(flows.ops.progress, "PUBLISH_EVERY_S", 0.0)  # every step, for this test
    with print_progress(stream_is_tty=False):
        progress = RunProgress("score", "ads", 2)
        progress.started("video 7")
        progress.finished("video 7", ok=True)
        progress.started("video 8")
        progress.finished("video 8", ok=True)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == ["score ads: 0 of 2", "score ads: 1 of 2", "score ads: 2 of 2"]
    assert "ETA" in lines[1] and "current video 8" not in lines[1]
