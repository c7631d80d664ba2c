"""Console pages of the records: the Art. 30 records (staff dpo, admin) and tenant inventories."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from privacy_saas.console.tenant_views import admin_page
from privacy_saas.console.views import staff_page
from privacy_saas.datamap.vocabulary import CATEGORIES, SUBJECTS
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.records import art30, inventory
from privacy_saas.records.api import download
from privacy_saas.records.formats import FORMATS

bp = Blueprint("records_console", __name__, url_prefix="/console/records", template_folder="templates")
tenant_bp = Blueprint("inventory_console", __name__, url_prefix="/console/t", template_folder="templates")


def _scope() -> str:
    scope = request.args.get("scope", "processor")
    if scope not in art30.RECORD_SCOPES:
        abort(400)
    return scope


@bp.get("/")
@staff_page("records.read")
def records_page():
    """Show the processor or controller record, with its downloads."""
    scope = _scope()
    return render_template("console/records/art30.html", record=art30.record(scope), scope=scope,
                           formats=list(FORMATS), categories=CATEGORIES, subjects=SUBJECTS)


@bp.get("/art30.<fmt>")
@staff_page("records.read")
def records_download(fmt: str):
    """Download a record as JSON, Markdown or CSV."""
    if fmt not in FORMATS:
        abort(404)
    return download(art30.record(_scope()), fmt)


@bp.get("/tenants/<slug>/inventory")
@staff_page("tenants.read")
def tenant_inventory(slug: str):
    """A tenant's inventory, as its admins see it (counts and dates only)."""
    found = tenants.get_by_slug(slug)
    return render_template("console/records/tenant_inventory.html", tenant=found, inventory=inventory.inventory(found),
                           categories=CATEGORIES, subjects=SUBJECTS)


@tenant_bp.get("/inventory")
@admin_page
def inventory_page(tenant):
    """What the vendor holds for this tenant, by category and table."""
    return render_template("console/tenant/inventory.html", tenant=tenant, inventory=inventory.inventory(tenant),
                           categories=CATEGORIES, subjects=SUBJECTS)
