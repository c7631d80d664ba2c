"""Staff console pages of data-subject requests: deadline dashboard and request detail (ids, never data)."""
from __future__ import annotations

from flask import Blueprint, render_template

from privacy_saas import clock
from privacy_saas.auth.principal import load_principal
from privacy_saas.console.views import staff_page
from privacy_saas.rights import service

bp = Blueprint("rights_console", __name__, url_prefix="/console/rights", template_folder="templates")


@bp.before_request
def _principal():
    load_principal()


@bp.route("/")
@staff_page("dsr.record")
def dashboard():
    """Open requests: overdue, due within 7 days, later."""
    return render_template("console/rights/dashboard.html", groups=service.dashboard(), now=clock.now())


@bp.route("/<uuid:request_id>")
@staff_page("dsr.record")
def request_detail(request_id):
    """One request: deadline, extension and where each match was routed."""
    request = service.get(request_id)
    return render_template("console/rights/request.html", request=request, routes=service.routing(request),
                           now=clock.now(), zip=zip)
