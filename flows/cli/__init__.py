"""The `emsync` command line: one module per command group."""

from flows.cli.app import app

__all__ = ["app"]
