"""Job functions the job tests owe and run (by dotted path, as every job)."""
import threading
from datetime import timedelta

from privacy_saas import clock
from privacy_saas.jobs.context import RetryLater, last_attempt, report_progress

RAN: list = []


def record(value):
    """Succeed, remembering `value`."""
    RAN.append(value)
    return f"recorded {value}"


def fail_with_data(value):
    """Fail with an exception whose message quotes a value (as a driver's or a parser's would)."""
    RAN.append(("failed", last_attempt()))
    raise ValueError(f"invalid literal: {value!r}")


def fail_plainly(value):
    """Fail with an exception of our own kind of message."""
    RAN.append("failed")
    raise RuntimeError(f"key store for {value} unavailable")


def wait_a_minute(value):
    """Ask to be run again in a minute (as a purge meeting a live lease does)."""
    RAN.append(value)
    raise RetryLater(clock.now() + timedelta(minutes=1), f"{value} is busy")


#: Set by a test to let `report_and_wait` finish.
RELEASE = threading.Event()


def report_and_wait(value):
    """Report progress, then wait (bounded) until the test has seen the heartbeat carry it."""
    report_progress(7, 10, table="things")
    RELEASE.wait(30)
    RAN.append(value)
