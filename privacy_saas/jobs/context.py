"""What a running job sees: its state (attempt, progress), how to ask to wait, how its function is found.

Kept apart from the queue and the runner, which both use it: job functions import from here
(or through jobs.queue) without pulling either in.
"""
from __future__ import annotations

import contextvars
import importlib
from dataclasses import dataclass
from datetime import datetime


class RetryLater(Exception):
    """Raised by a job that must wait (another worker's live lease): owed again at `at`, no attempt used."""

    def __init__(self, at: datetime, reason: str):
        super().__init__(reason)
        self.at = at
        self.reason = reason


def resolve(name: str):
    """Return the job function at dotted path `name`."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@dataclass
class RunState:
    """The job this thread is running: for progress reports and `last_attempt()`."""

    attempt: int
    max_attempts: int | None
    progress: dict | None = None


running_job: contextvars.ContextVar[RunState | None] = contextvars.ContextVar("privacy_saas_job", default=None)


def report_progress(done: int, total: int | None = None, **extra) -> None:
    """Record the running job's progress; its next heartbeat saves it (no-op outside a job)."""
    running = running_job.get()
    if running is not None:
        running.progress = {"done": done, "total": total, **extra}


def last_attempt() -> bool:
    """Return whether a failure now would make the running job dead (True outside a job)."""
    running = running_job.get()
    return running is None or (running.max_attempts is not None and running.attempt >= running.max_attempts)
