"""Errors that mean "the input is bad", as opposed to bugs or infrastructure failures.

Callers show `InputError` to the user as one line and exit non-zero; everything else is a bug or an
outage and may be retried. Keeping the two apart is what lets flows retry infrastructure errors only.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class InputError(ValueError):
    """Bad input: the message names the input and the problem."""

    def __init__(self, subject: object, problem: str) -> None:
        self.subject = str(subject)
        self.problem = problem
        super().__init__(f"{self.subject}: {problem}")


# OS errors that describe the path the user gave (deterministic: retrying cannot help), as opposed to
# the machine (a full disk, an I/O error, a dropped connection), which may pass.
_PATH_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
                          errno.EACCES, errno.EPERM})
_PATH_PROBLEMS = {errno.ENAMETOOLONG: "a path component is longer than the file system allows (255 bytes)",
                  errno.ELOOP: "too many levels of symbolic links (a symlink loop)",
                  errno.ENOENT: "no such file or folder", errno.ENOTDIR: "a path component is not a folder",
                  errno.EISDIR: "is a folder", errno.EACCES: "permission denied", errno.EPERM: "not permitted"}


def as_input_error(exc: BaseException, subject: object | None = None) -> InputError | None:
    """The `InputError` an exception stands for, or None when it is not the input's fault.

    Bad input is `InputError` itself, an `OSError` about the path (too long a name, a symlink loop,
    permission denied) and Python's `RuntimeError` for a symlink loop in `Path.resolve()`.
    """
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _PATH_ERRNOS:
        shown = subject if subject is not None else (exc.filename if exc.filename is not None else "(path)")
        return InputError(shown, _PATH_PROBLEMS[exc.errno])
    if isinstance(exc, RuntimeError) and "Symlink loop" in str(exc):
        return InputError(subject if subject is not None else "(path)", _PATH_PROBLEMS[errno.ELOOP])
    return None


def is_input_problem(exc: BaseException) -> bool:
    """True for bad input (never retried, never re-queued), False for what may be an outage."""
    return as_input_error(exc) is not None


@contextmanager
def path_errors_as_input(subject: object) -> Iterator[None]:
    """Turn an OS error about `subject`'s path into an `InputError` naming it; others pass through."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        converted = as_input_error(exc, subject)
        if converted is None or isinstance(exc, InputError):
            raise
        raise converted from None
