"""What every domain's command group shares: the error exit and the commit-or-fail boundary.

Imports no domain, so any scope's commands may use it (and the app factory registers them all
without an import cycle).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from privacy_saas.errors import AppError
from privacy_saas.extensions import db


class Fail(click.ClickException):
    """An error message on stderr and exit status 1."""

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def fail(message: str) -> NoReturn:
    """Print `message` to stderr as an error and exit 1."""
    raise Fail(message)


@contextmanager
def committed(prefix: str = "", suffix: str = "") -> Iterator[None]:
    """Commit what the block did; on a refused change roll it all back and fail with its message."""
    try:
        yield
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        fail(f"{prefix}{exc.message}{suffix}")
