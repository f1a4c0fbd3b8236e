"""Errors that mean "the input is bad", as opposed to bugs or infrastructure failures.

Callers show `InputError` to the user as one line and exit non-zero; everything else is a bug or an
outage and may be retried. Keeping the two apart is what lets flows retry infrastructure errors only.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message names the input and the problem."""

    def __init__(self, subject: object, problem: str) -> None:
        self.subject = str(subject)
        self.problem = problem
        super().__init__(f"{self.subject}: {problem}")
