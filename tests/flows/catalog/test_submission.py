"""A backfill takes its next claim only when a slot is free: no lease is held while it waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from flows.catalog.submission import bounded_submit


class Wrapped:
    """The part of a Prefect future `bounded_submit` uses: `wrapped_future`."""

    def __init__(self, future: Future) -> None:
        self.wrapped_future = future


@pytest.mark.parametrize("limit", [1, 2])
def test_items_are_taken_only_when_a_slot_is_free(limit: int) -> None:
    lock = threading.Lock()
    running = finished = 0
    unfinished_at_take: list[int] = []
    most = 0

    def claims() -> Iterator[int]:
        for i in range(6):
            with lock:
                unfinished_at_take.append(i - finished)  # taken before this one and not yet done
            yield i

    def work(i: int) -> int:
        nonlocal running, most, finished
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
            finished += 1
        return i

    done: list[int] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        bounded_submit(lambda i: Wrapped(pool.submit(work, i)), claims(), limit,
                       lambda i, f: done.append(f.wrapped_future.result()))
    assert sorted(done) == list(range(6))
    assert most <= limit
    # Each take happened while fewer than `limit` taken items were unfinished (the old loop took the
    # next claim while `limit` jobs still ran, holding limit + 1 leases).
    assert max(unfinished_at_take) <= limit - 1, unfinished_at_take
