"""What every domain's command group shares: the error exit, the commit-or-fail boundary, and outages.

Imports no domain, so any scope's commands may use it (and the app factory registers them all
without an import cycle).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click
import sqlalchemy as sa
from flask.cli import AppGroup, FlaskGroup

from privacy_saas.errors import AppError, Unavailable
from privacy_saas.extensions import db

#: What a database that does not answer raises (the web app answers 503 `database_unavailable` for them).
DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError)


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


class _OutagesFail:
    """A command group whose commands, and their sub-commands, end with a message when a server is down.

    An outage is not a bug: the operator gets what is down and that a rerun is safe, not a traceback.
    The app context of the failed command is gone by then, and its teardown rolled back what it had
    not committed.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Unavailable as error:
            # The key store, for one: its message names the store and the scope or key, never key material.
            fail(f"{error.service} is unavailable ({error}). What the command had not committed was rolled back; "
                 f"run it again when {error.service} answers")
        except DATABASE_DOWN as error:
            # The driver's first line only: SQLAlchemy's own text would carry the statement's parameters.
            reason = str(getattr(error, "orig", None) or type(error).__name__).strip().splitlines()
            fail(f"the database is unavailable ({reason[0] if reason else type(error).__name__}). What the "
                 f"command had not committed was rolled back; run it again when the database answers")


class Main(_OutagesFail, FlaskGroup):
    """The `privacy-saas` entry point (cli.py)."""


class Commands(_OutagesFail, AppGroup):
    """An app's own command group (`app.cli`, which the test runner and `app.cli.main` invoke)."""
