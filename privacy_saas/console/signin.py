"""Signing in to and out of the console: one flow for staff (/console) and tenant users (/console/t)."""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm

from privacy_saas.console.forms import ConfirmForm
from privacy_saas.extensions import db


def sign_in_page(form: FlaskForm, authenticate: Callable[[FlaskForm], object], *, template: str,
                 refused: str | Callable[[FlaskForm], str], within: str, home: str):
    """Serve a sign-in form; a right password starts a fresh session and goes on to `next` or `home`.

    `authenticate(form)` returns the account or None; `refused` is the message then (or makes it
    from the form); `within` is the path prefix that `next` must stay under.
    """
    if form.validate_on_submit():
        account = authenticate(form)
        db.session.commit()  # the attempt is audited and counts towards the lockout, whatever its outcome
        if account is None:
            flash(refused(form) if callable(refused) else refused, "error")
            return render_template(template, form=form), 401
        session.clear()  # a fresh session on sign-in: no fixation
        login_user(account)
        return redirect(_safe_next(request.args.get("next"), within, home))
    return render_template(template, form=form), 400 if request.method == "POST" else 200


def _safe_next(target: str | None, within: str, home: str) -> str:
    # Only paths of the same console, so the sign-in form cannot be an open redirect.
    if target and target.startswith(within) and not target.startswith("//"):
        return target
    return url_for(home)


def sign_out(login: str):
    """End the session (a CSRF-checked POST) and go to the `login` page."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    return redirect(url_for(login))
