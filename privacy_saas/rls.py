"""PostgreSQL row-level security, the second tenant fence: who the session works for.

Migration 0009 puts a policy on every processor table:
`tenant_id = current_setting('app.tenant_id', true)::uuid OR current_setting('app.rls_bypass', true) = 'on'`.
Settings made with `SET LOCAL` die at commit, so the session remembers its scope in
`session.info` and re-applies it at the start of every transaction. Superusers and
BYPASSRLS roles are not bound by policies: deploy the application as an ordinary role.
"""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

from privacy_saas import audit
from privacy_saas.extensions import db

TENANT_KEY = "rls_tenant_id"
BYPASS_KEY = "rls_bypass"
#: id() of the session transaction whose connection has begun (and so holds the settings made so far).
BEGUN_KEY = "rls_begun"


def _apply(connection, info) -> None:
    if connection.dialect.name != "postgresql":
        return
    tenant_id = info.get(TENANT_KEY)
    connection.execute(sa.text("SELECT set_config('app.tenant_id', :t, true), set_config('app.rls_bypass', :b, true)"),
                       {"t": str(tenant_id) if tenant_id else "", "b": "on" if info.get(BYPASS_KEY) else "off"})


@sa.event.listens_for(Session, "after_begin")
def _on_begin(session, transaction, connection):
    # A SAVEPOINT lives inside a transaction whose settings are already made.
    if transaction.nested:
        return
    session.info[BEGUN_KEY] = id(transaction)
    if TENANT_KEY in session.info or BYPASS_KEY in session.info:
        _apply(connection, session.info)


def _reapply() -> None:
    session = db.session()
    # Only a transaction already on its connection needs the settings now; one that has not reached the
    # database yet (autobegun by an add) gets them when it does (_on_begin), without a round trip here.
    # A reused id() can only make this apply once more, never skip.
    if session.in_transaction() and session.info.get(BEGUN_KEY) == id(session.get_transaction()):
        _apply(session.connection(), session.info)


def scope_to_tenant(tenant_id) -> None:
    """Bind this session (every transaction until it is removed) to one tenant's rows."""
    info = db.session().info
    info[TENANT_KEY] = tenant_id
    info.pop(BYPASS_KEY, None)
    _reapply()


@contextmanager
def bypass(reason: str, *, tenant_id=None):
    """Work across tenants (purge, staff jobs): an explicit, audited lift of the fence."""
    info = db.session().info
    saved = {key: info.pop(key) for key in (TENANT_KEY, BYPASS_KEY) if key in info}
    info[BYPASS_KEY] = True
    _reapply()
    audit.record("rls.bypass", tenant_id=tenant_id, detail={"reason": reason})
    try:
        yield
    finally:
        info.pop(BYPASS_KEY, None)
        info.update(saved)
        if db.session().in_transaction():
            _apply(db.session.connection(), info)


def lift_for_staff() -> None:
    """Let a staff request see every tenant's rows (its capability was checked).

    Not an audit entry per request: what staff do is audited by the actions themselves.
    """
    info = db.session().info
    info.pop(TENANT_KEY, None)
    info[BYPASS_KEY] = True
    _reapply()
