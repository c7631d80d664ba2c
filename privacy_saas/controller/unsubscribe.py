"""Public unsubscribe links: GET shows a confirmation, POST suppresses.

The GET never changes anything (mail scanners and link previews fetch URLs); the POST
needs no CSRF token because the signed token in the URL is the authorisation, and it
also answers RFC 8058 one-click requests (`List-Unsubscribe=One-Click`).
"""
from __future__ import annotations

from flask import Blueprint, render_template

from privacy_saas.controller.contacts import service
from privacy_saas.controller.contacts.service import InvalidLink

bp = Blueprint("unsubscribe", __name__, url_prefix="/unsubscribe")


@bp.get("/<token>")
def confirm(token: str):
    """Ask the person to confirm; writes nothing."""
    try:
        target = service.resolve_unsubscribe(token)
    except InvalidLink:
        return render_template("console/controller/unsubscribe.html", state="invalid"), 400
    state = "done" if target.already_suppressed and target.contact is None else "confirm"
    return render_template("console/controller/unsubscribe.html", state=state, token=token)


@bp.post("/<token>")
def unsubscribe(token: str):
    """Suppress the address of the link and delete its contact."""
    try:
        service.unsubscribe(token)
    except InvalidLink:
        return render_template("console/controller/unsubscribe.html", state="invalid"), 400
    return render_template("console/controller/unsubscribe.html", state="done")
