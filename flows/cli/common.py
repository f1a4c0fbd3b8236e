"""What every `emsync` command group shares: the consoles, and the one way a command ends on an error
(bad input: one line, exit 2; a failed tool or server: one line, exit 1; never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from emsync_models.errors import InputError

err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> typer.Exit:
    from rich.markup import escape

    # The message quotes user input (file names, manifest text): shown as written, never as markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Bad input → one line + exit 2; a failed tool or server → one line + exit 1. Never a traceback."""
    try:
        yield
    except InputError as exc:
        raise fail(str(exc), 2) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI user
        from emsync_models.errors import as_input_error

        converted = as_input_error(exc)
        if converted is not None:
            raise fail(str(converted), 2) from None
        raise fail(f"{type(exc).__name__}: {exc}", 1) from None
