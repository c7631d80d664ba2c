"""Small helpers shared by tests."""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import date

import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from privacy_saas.crypto.service import create_tenant_keys
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant

#: The password of the registered users the fixtures create.
PASSWORD = "correct horse battery staple"

_CSRF_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')


def bearer(token: str) -> dict:
    """Return the Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def swap_indexes(session, model, first, second, **keys) -> None:
    """Swap the email_bidx of two rows and commit, as a direct database write would."""
    def where(row):
        return [model.id == row.id] + [getattr(model, k) == v for k, v in keys.items()]

    a, b = first.email_bidx, second.email_bidx
    session.execute(sa.update(model).where(*where(first)).values(email_bidx=b"\x00" * 16))
    session.execute(sa.update(model).where(*where(second)).values(email_bidx=a))
    session.execute(sa.update(model).where(*where(first)).values(email_bidx=b))
    session.commit()
    session.expire_all()


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in `html`."""
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token input on the page"
    return match.group(1)


def form_token(client, path: str) -> str:
    """Return the CSRF token of the first form on the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return csrf_token(page.get_data(as_text=True))


def new_tenant(slug: str | None = None, *, keys: bool = True, **fields) -> Tenant:
    """Add an active EU tenant (contract since 2025, deleted at its end), with its data and index keys; flushed."""
    values = {"slug": slug or f"t-{uuid.uuid4().hex[:8]}", "region": "eu", "contract_start": date(2025, 1, 1),
              "end_action": "delete", "status": "active", **fields}
    values.setdefault("name", f"{values['slug'].title()} Ltd")
    tenant = Tenant(**values)
    db.session.add(tenant)
    db.session.flush()
    if keys:
        create_tenant_keys(tenant)
    return tenant


class RequestContextClient(FlaskClient):
    """A test client that gives every request its own app context, as a real server does.

    The `session` fixture keeps one app context pushed for the whole test, and Flask
    reuses a pushed context for requests: `g` (the cached principal, Flask-Login's
    user) and the database session would then leak from one request to the next, so
    a revoked token or a signed-out user still passed in the second request.
    """

    def open(self, *args, **kwargs):
        # The request's session shares the test's connection: it must see the setup.
        db.session.flush()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@contextmanager
def serving(app):
    """Serve `app` on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def http(method: str, url: str, token: str | None = None, body=None, timeout: float = 30):
    """Send one JSON request; returns (status, parsed body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


@contextmanager
def statements(session):
    """Collect the SQL statements the session's connection sends meanwhile (savepoint bookkeeping left out)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _executemany):
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            seen.append(statement)

    bind = session.get_bind()
    sa.event.listen(bind, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(bind, "before_cursor_execute", record)


def race(app, action, threads: int = 2) -> list[str]:
    """Run `action` in `threads` threads, each in its own session, started together; return their sorted
    outcomes: "ok" for a commit, the error code of an AppError (rolled back)."""
    barrier, outcomes = threading.Barrier(threads, timeout=30), []

    def run():
        with app.app_context():
            barrier.wait()
            try:
                action()
                db.session.commit()
                outcomes.append("ok")
            except AppError as exc:
                db.session.rollback()
                outcomes.append(exc.code)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return sorted(outcomes)

