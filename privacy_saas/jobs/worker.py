"""`privacy-saas worker`: an RQ worker plus the periodic scheduler sweep."""
from __future__ import annotations

import logging
import os
import threading

from flask import Flask

from privacy_saas.jobs.queue import QUEUE_NAME, redis_connection

log = logging.getLogger(__name__)

SWEEP_LOCK = "privacy_saas:scheduler:sweep"


def run_sweep(app: Flask) -> None:
    """Run the lifecycle sweep once, if no other worker is running it right now."""
    from privacy_saas.extensions import db
    from privacy_saas.lifecycle.tasks import sweep

    conn = redis_connection(app)
    lock = conn.lock(SWEEP_LOCK, timeout=600, blocking=False) if conn is not None else None
    if lock is not None and not lock.acquire():
        return
    try:
        with app.app_context():
            try:
                report = sweep()
                log.info("sweep: %d contract(s) ended, %d purge(s) queued",
                         len(report["ended"]), len(report["purge"]))
            except Exception:
                db.session.rollback()
                log.exception("scheduler sweep failed")
            finally:
                db.session.remove()
    finally:
        if lock is not None:
            lock.release()


def start_scheduler(app: Flask, interval: float) -> threading.Event:
    """Run the sweep every `interval` seconds in a daemon thread; set the returned event to stop."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            run_sweep(app)
            stop.wait(interval)

    threading.Thread(target=loop, name="privacy-saas-scheduler", daemon=True).start()
    return stop


def run_worker(app: Flask, burst: bool, sweep_interval: float | None) -> None:
    """Work the queue (RQ) until stopped, sweeping every `sweep_interval` seconds."""
    from rq import Queue, SimpleWorker

    conn = redis_connection(app)
    if conn is None:
        raise RuntimeError("REDIS_URL is not set: jobs run in-process with `make run`; a worker needs Redis")
    stop = start_scheduler(app, sweep_interval) if sweep_interval else None
    # SimpleWorker runs jobs in this process, inside the app context pushed here:
    # no fork, so database connections are never shared between processes.
    with app.app_context():
        worker = SimpleWorker([Queue(QUEUE_NAME, connection=conn)], connection=conn,
                              name=f"privacy-saas-{os.getpid()}")
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
        finally:
            if stop is not None:
                stop.set()
