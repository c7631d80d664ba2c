"""Readiness, for load balancers and monitoring: GET /healthz."""
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from privacy_saas.crypto.errors import KeyStoreUnavailable
from privacy_saas.crypto.keyring import keyring
from privacy_saas.extensions import db
from privacy_saas.jobs import service as jobs
from privacy_saas.jobs.queue import ping

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report the database, the job queue and the key store, and how the scheduler is doing.

    The status code says whether a load balancer should send this node requests. Only the database
    down makes it 503 (`unavailable`): without it the node can serve nothing. The queue or the key
    store down is 200 `degraded`, since every web node shares them, and pulling them all would turn a
    partial outage into a total one: jobs are still owed in the database (the dispatcher hands them
    over once Redis is back), tenants whose keys are cached and everything that needs no key still
    work, and the rest answers 503 per request. Monitoring alerts on `status` and `checks`, and on
    `scheduler.state` for the workers.
    """
    checks = {}
    scheduler = {"state": "unknown"}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
        scheduler = jobs.scheduler_state()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unavailable"
    checks["queue"] = "ok" if ping(current_app) else "unavailable"
    try:
        keyring().store.ping()
        checks["key_store"] = "ok"
    except KeyStoreUnavailable:
        checks["key_store"] = "unavailable"
    if checks["database"] != "ok":
        return jsonify({"status": "unavailable", "checks": checks, "scheduler": scheduler}), 503
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return jsonify({"status": status, "checks": checks, "scheduler": scheduler}), 200
