"""`privacy-saas worker`: an RQ worker that outlives Redis outages, with the scheduler in a thread."""
from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import threading
import time

from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker

from privacy_saas.jobs.queue import QUEUE_NAME, RQBackend
from privacy_saas.jobs.runner import describe
from privacy_saas.jobs.scheduler import Scheduler

log = logging.getLogger(__name__)

#: Longest pause before starting the RQ loop again while Redis does not answer.
MAX_RESTART_PAUSE = 30.0
#: Burst mode: dispatch-and-work rounds at most (each round empties the queue).
BURST_ROUNDS = 1000


class _Worker(SimpleWorker):
    """RQ's SimpleWorker that also tells us when a stop was asked, even if Redis cannot be told."""

    stop_event: threading.Event

    def request_stop(self, signum, frame):
        self.stop_event.set()
        super().request_stop(signum, frame)


def _redis(app: Flask) -> Redis:
    # Its own connection: RQ raises the socket timeout of the connection it dequeues on above its
    # blocking wait, which must not slow the dispatcher's short calls.
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, health_check_interval=30)


def _new_worker(conn, stop: threading.Event, incarnation: int) -> _Worker:
    worker = _Worker([Queue(QUEUE_NAME, connection=conn)], connection=conn,
                     name=f"privacy-saas-{socket.gethostname()}-{os.getpid()}-{incarnation}")
    worker.stop_event = stop
    return worker


def _close(worker: _Worker) -> None:
    # A teardown that met a dead Redis leaves the command-channel thread retrying forever.
    if worker.pubsub_thread is not None:
        worker.pubsub_thread.stop()


def run_worker(app: Flask, burst: bool, sweep_interval: float | None) -> None:
    """Work the queue (RQ) until stopped, with the scheduler (heartbeat, dispatch, sweep) beside it."""
    if not app.config.get("REDIS_URL"):
        raise RuntimeError("REDIS_URL is not set: jobs run in-process with `make run`; a worker needs Redis")
    scheduler = Scheduler(app, RQBackend(app), kind="rq", sweep_interval=sweep_interval)
    conn = _redis(app)
    stop = threading.Event()
    # SimpleWorker runs jobs in this process, inside the app context pushed here:
    # no fork, so database connections are never shared between processes.
    with app.app_context():
        if burst:
            _drain(scheduler, conn, stop)
            return
        scheduler.start()
        try:
            _work(conn, stop)
        finally:
            scheduler.stop()


def _drain(scheduler: Scheduler, conn, stop: threading.Event) -> None:
    """Burst: dispatch what is due and work the queue, until a round finds nothing to do."""
    for round_ in range(1, BURST_ROUNDS + 1):
        scheduler.tick()
        worker = _new_worker(conn, stop, round_)
        try:
            worked = worker.work(burst=True, logging_level="INFO")
        finally:
            _close(worker)
        if stop.is_set() or (not worked and not scheduler.last_pass.dispatched):
            return


def _work(conn, stop: threading.Event) -> None:
    """Run RQ's loop; when it gives up on a Redis error, start it again (backing off) until a stop."""
    pause = 1.0
    for incarnation in itertools.count(1):
        worker, started = None, time.monotonic()
        try:
            # Even making the worker talks to Redis (it names its connection).
            worker = _new_worker(conn, stop, incarnation)
            worker.work(burst=False, logging_level="INFO")
        except Exception as error:  # noqa: BLE001  (Redis went away under RQ; the loop comes back)
            log.warning("worker: the RQ loop stopped on %s", describe(error))
        finally:
            if worker is not None:
                _close(worker)
        if stop.is_set():
            return
        if time.monotonic() - started > 60:
            pause = 1.0
        log.warning("worker: RQ loop ended without a stop request (Redis unavailable?); starting again in %.0f s",
                    pause)
        # RQ's signal handlers belong to the worker that ended: between loops, a signal only stops.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if stop.wait(pause):
            return
        pause = min(pause * 2, MAX_RESTART_PAUSE)
