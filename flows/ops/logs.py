"""Log output for people (text) or for Loki/ELK (one JSON object per line), for every command and worker.

`configure(level, fmt)` sets both EMSYNC's own handler and Prefect's (through its logging settings,
before Prefect is imported, which is when it reads them), so flow and task logs come out in the same
format. Third-party warnings (Python's `warnings`, e.g. threadpoolctl's) are shown only at debug.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
OUR_LOGGERS = ("emsync_models", "flows", "db", "serving", "prefect")
# Context Prefect attaches to flow- and task-run records, kept as fields of their own.
CONTEXT_FIELDS = ("flow_run_name", "flow_run_id", "flow_name", "task_run_name", "task_run_id", "task_name")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the run context Prefect
    adds, and the formatted traceback under "exception" when there is one."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%",
                 validate: bool = True, **_: Any) -> None:  # noqa: ANN401 - dictConfig passes what it has
        super().__init__(None, datefmt)
        del fmt, style, validate  # the shape is fixed; Prefect's config hands us its "format" key

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = str(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record comes (not the stream of the moment it was made)."""

    @property
    def stream(self) -> Any:  # noqa: ANN401 - a text stream
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:  # noqa: ANN401
        pass


def configure(level: str, fmt: str = "text") -> None:
    """One level and one format for EMSYNC's loggers and Prefect's."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    os.environ["PREFECT_LOGGING_LEVEL"] = level.upper()
    if fmt == "json":
        # Prefect's console handler (the root logger's, once Prefect is imported) formats with ours.
        os.environ["PREFECT_LOGGING_FORMATTERS_JSON_CLASS"] = f"{__name__}.JsonFormatter"
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_FORMATTER"] = "json"
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    # Other libraries (alembic, numba, ...) speak only at WARNING and above; the level chosen here is ours.
    # A no-op where the root logger has handlers already (a test runner's; Prefect's once imported).
    logging.basicConfig(level=max(logging.WARNING, logging.getLevelName(level.upper())), handlers=[handler])
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())
    quiet_third_party_warnings(level)
    install_expected_outcome_filter()


# Prefect's loggers for flow and task runs and its engine: where it logs a run's exception.
PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.engine", "prefect.flow_engine")
UNEXPECTED = "Engine execution exited with unexpected exception"


class ExpectedOutcomes(logging.Filter):
    """Bad input (InputError) and a catalog run that ended Failed because videos failed
    (CatalogRunFailed) are outcomes the flow already reported in one line: Prefect's records of them
    keep their message and lose the traceback, and the engine's "unexpected exception" record about
    them (a worker's flow run ending Failed on purpose) is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        from emsync_models.errors import InputError
        from flows.ops.outcome import CatalogRunFailed

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, InputError | CatalogRunFailed):
            if record.getMessage() == UNEXPECTED:
                return False
            record.exc_info, record.exc_text = None, None
        return True


class TracebacksAtDebugOnly(logging.Filter):
    """On the CLI's console, below debug: a run's error keeps its message and loses its traceback (a
    server that is down is one line per retry, not a page of frames). Prefect's UI still gets them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.startswith("prefect"):
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}" if exc is not None else record.msg
            record.args = None
            record.exc_info, record.exc_text = None, None
        return True


def install_expected_outcome_filter() -> None:
    for name in PREFECT_RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedOutcomes) for f in logger.filters):
            logger.addFilter(ExpectedOutcomes())


def console_tracebacks_at_debug_only() -> None:
    """Attach TracebacksAtDebugOnly to the root logger's stream handlers (after Prefect set them up)."""
    if logging.getLogger("flows").getEffectiveLevel() <= logging.DEBUG:
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not any(
            isinstance(f, TracebacksAtDebugOnly) for f in handler.filters
        ):
            handler.addFilter(TracebacksAtDebugOnly())


def configure_from_env() -> None:
    """For processes without the CLI's options (the worker): EMSYNC_LOG_LEVEL and EMSYNC_LOG_FORMAT, as
    the CLI reads them."""
    level = os.environ.get("EMSYNC_LOG_LEVEL", "info").lower()
    fmt = os.environ.get("EMSYNC_LOG_FORMAT", "text").lower()
    for name, value, allowed in (("EMSYNC_LOG_LEVEL", level, LEVELS), ("EMSYNC_LOG_FORMAT", fmt, FORMATS)):
        if value not in allowed:
            print(f"error: {name}={value!r}: use one of {', '.join(allowed)}", file=sys.stderr)
            raise SystemExit(2)
    configure(level, fmt)


def quiet_third_party_warnings(level: str) -> None:
    """Python warnings from libraries (threadpoolctl's OpenMP notice, deprecations) are for developers:
    shown at debug, where they go to the log like everything else, and silent otherwise."""
    if level == "debug":
        warnings.simplefilter("default")  # even where an inherited PYTHONWARNINGS=ignore said otherwise
        logging.captureWarnings(True)
        return
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # for the helper processes the command starts
