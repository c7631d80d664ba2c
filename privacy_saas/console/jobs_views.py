"""Staff console: background work (workers' liveness, owed, failing and dead jobs, stuck purges)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.views import staff_page
from privacy_saas.jobs import service as jobs
from privacy_saas.lifecycle import purge
from privacy_saas.processor.tenants import service as tenant_service

bp = Blueprint("jobs_console", __name__, url_prefix="/console/jobs", template_folder="templates")


@bp.get("/")
@staff_page("tenants.read")
def dashboard():
    """Show workers, stuck purges, owed and failing jobs, dead jobs."""
    unfinished, dead = jobs.unfinished(), jobs.dead()
    stuck = purge.stuck_purges()
    slugs = tenant_service.slugs([j.tenant_id for j in unfinished + dead])
    return render_template("console/jobs.html", workers=jobs.workers(), is_alive=jobs.is_alive,
                           counts=jobs.overview(), unfinished=unfinished, dead=dead, stuck=stuck,
                           slugs=slugs, confirm=ConfirmForm())


@bp.post("/<uuid:job_id>/retry")
@staff_page("jobs.manage")
def retry(job_id):
    """Retry a dead job now."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    job = jobs.retry(job_id)
    flash(f"Job {job.id} is owed again.", "ok")
    return redirect(url_for("jobs_console.dashboard"))
