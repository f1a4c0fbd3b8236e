"""The catalog flows' one concurrency primitive: submit Prefect tasks with a bounded number in flight."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def _wait_any(futures: list[Any]) -> None:
    """Block until at least one Prefect future is done (without polling the API)."""
    wrapped = [getattr(f, "wrapped_future", None) for f in futures]
    if all(isinstance(w, concurrent.futures.Future) for w in wrapped):
        concurrent.futures.wait(wrapped, return_when=concurrent.futures.FIRST_COMPLETED)  # type: ignore[arg-type]
    else:
        futures[0].wait()


def _done(future: Any) -> bool:  # noqa: ANN401
    wrapped = getattr(future, "wrapped_future", None)
    return wrapped.done() if isinstance(wrapped, concurrent.futures.Future) else future.state.is_final()


_END = object()


def bounded_submit(
    submit: Callable[[Any], Any], items: Iterable[Any], limit: int, on_done: Callable[[Any, Any], None]
) -> None:
    """Run `submit(item)` for each item with at most `limit` in flight; `on_done(item, future)` after each.

    The next item is taken from `items` only once a slot is free: items that are claims (leases on
    work) are then never held while they wait, and a claim's start time is the job's start time.
    """
    if limit < 1:  # nothing could ever be in flight: the loop below would spin without end
        raise ValueError(f"bounded_submit needs a limit of at least 1, got {limit}")
    inflight: list[tuple[Any, Any]] = []

    def drain(keep: int) -> None:
        while len(inflight) > keep:
            _wait_any([f for _, f in inflight])
            for pair in [p for p in inflight if _done(p[1])]:
                inflight.remove(pair)
                on_done(*pair)

    # Make room before pulling the next item: pulling can be what claims a lease, so at most `limit`
    # items are ever taken and unfinished at once.
    iterator = iter(items)
    while True:
        drain(limit - 1)
        item = next(iterator, _END)
        if item is _END:
            break
        inflight.append((item, submit(item)))
    drain(0)


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def result_or_error(future: Any) -> tuple[Any, BaseException | None]:  # noqa: ANN401
    try:
        return future.result(), None
    except Exception as exc:  # noqa: BLE001 - reported per item, the run goes on
        return None, exc
