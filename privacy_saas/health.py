"""Liveness and readiness: GET /healthz."""
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
    """Report whether the database, the job queue and the key store are reachable, and how the scheduler is doing.

    The status code answers for this web process only (its database, queue and key store): workers being
    down must not take a web node out of a load balancer. `scheduler` says whether any worker
    beats and when the fleet last swept, for monitoring to alert on.
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
        # Tenants whose keys are cached keep working; the others answer 503 until the store is back.
        checks["key_store"] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if healthy else "degraded", "checks": checks, "scheduler": scheduler}), \
        200 if healthy else 503
