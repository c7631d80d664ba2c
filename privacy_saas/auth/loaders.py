"""Flask-Login session loading: the session id names the kind of principal."""
from __future__ import annotations

import uuid

from privacy_saas.auth.models import Staff
from privacy_saas.extensions import db

#: Loaders for other principal kinds ("user" for registered users), keyed by session prefix.
SESSION_LOADERS: dict = {}


def load_user(session_id: str):
    """Return the staff member or registered user a session belongs to."""
    kind, _, rest = session_id.partition(":")
    if kind == "staff":
        try:
            staff = db.session.get(Staff, uuid.UUID(rest))
        except ValueError:
            return None
        return staff if staff is not None and staff.active else None
    loader = SESSION_LOADERS.get(kind)
    return loader(rest) if loader else None
