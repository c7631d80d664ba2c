"""Liveness and readiness: GET /healthz."""
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from privacy_saas.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report whether the database and the job queue are reachable."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unavailable"
    from privacy_saas.jobs.queue import ping

    checks["queue"] = "ok" if ping(current_app) else "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if healthy else "degraded", "checks": checks}), 200 if healthy else 503
