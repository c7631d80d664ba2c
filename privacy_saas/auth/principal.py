"""Who is calling: staff (session or token) or a tenant (token or signed-in tenant admin)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from privacy_saas import audit, clock, rls
from privacy_saas.auth import token_cache, tokens
from privacy_saas.auth.models import ApiToken, Staff
from privacy_saas.auth.service import get_staff
from privacy_saas.db import is_reading, writing
from privacy_saas.errors import AppError, Forbidden
from privacy_saas.extensions import csrf, db

#: What each staff role may do; every staff endpoint names one capability.
CAPABILITIES: dict[str, frozenset[str]] = {
    "tenants.read": frozenset({"support", "account_manager", "dpo", "admin"}),
    "tenants.offboard": frozenset({"account_manager", "admin"}),
    # Undoing an offboarding, or starting a due purge before the sweep does: the DPO's call (or an admin's).
    "tenants.reinstate": frozenset({"dpo", "admin"}),
    "tenants.purge": frozenset({"dpo", "admin"}),
    "legal_holds.manage": frozenset({"dpo", "admin"}),
    "keys.manage": frozenset({"admin"}),
    "audit.read": frozenset({"dpo", "admin"}),
    "records.read": frozenset({"dpo", "admin"}),
    "contacts.read": frozenset({"account_manager", "dpo", "admin"}),
    "contacts.write": frozenset({"account_manager", "dpo", "admin"}),
    "subprocessors.read": frozenset({"support", "account_manager", "dpo", "admin"}),
    "subprocessors.write": frozenset({"dpo", "admin"}),
    "dsr.record": frozenset({"support", "dpo", "admin"}),
    "dsr.decide": frozenset({"dpo", "admin"}),
    "breaches.read": frozenset({"account_manager", "dpo", "admin"}),
    "breaches.write": frozenset({"dpo", "admin"}),
    "objections.manage": frozenset({"account_manager", "dpo", "admin"}),
    "jobs.manage": frozenset({"admin"}),
}

#: last_used_at is written at most this often, to keep token checks off the write path.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)

_INVALID = "the bearer token is invalid or revoked"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


@dataclass
class Principal:
    """The authenticated caller of one request."""

    kind: str  # "staff" or "tenant"
    staff: Staff | None = None
    tenant_id: object = None
    user: object = None  # the signed-in tenant admin, when not a token
    token_id: object = None
    #: The tenant a tenant principal acts for, loaded with its token or signed-in user: the one
    #: look-up of the request (current_tenant()). Holding it also keeps it in the session's
    #: weak-referencing identity map.
    tenant: object = None

    @property
    def actor(self) -> tuple[str, str]:
        """Return (actor kind, actor id) for the audit log."""
        if self.staff is not None:
            return "staff", str(self.staff.id)
        if self.user is not None:
            return "tenant_admin", str(self.user.id)
        return "tenant_token", str(self.token_id)

    def can(self, capability: str) -> bool:
        """Return whether this principal holds a staff capability."""
        return self.staff is not None and self.staff.role in CAPABILITIES[capability]


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def touch_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Return whether a token last used at `last_used_at` is due its last_used_at write and `token.use` audit."""
    return last_used_at is None or now - last_used_at > TOKEN_TOUCH_INTERVAL


def touch_token(token: ApiToken, now: datetime) -> None:
    """Write the token's last use and audit it (each write the token then makes is audited with it as actor)."""
    token.last_used_at = now
    audit.record("token.use", tenant_id=token.tenant_id, targets=[token.id],
                 actor=("staff" if token.kind == "staff" else "tenant_token",
                        token.staff_id if token.kind == "staff" else token.id),
                 detail={"method": request.method})


def _touched(token: ApiToken, now: datetime) -> ApiToken:
    """Touch `token` (see touch_token); return it, reloaded when it was touched in a transaction of its own.

    A request that only reads (`db.reading()`) must not write in its read transaction: the use is then
    recorded and committed in a writing transaction first.
    """
    if not is_reading():
        touch_token(token, now)
        return token
    token_id = token.id
    db.session.rollback()  # ends the read snapshot; nothing was written in it
    with writing():
        token = db.session.get(ApiToken, token_id)
        if token is None or token.revoked_at is not None:  # revoked in between
            raise Unauthorized(_INVALID, code="invalid_token")
        touch_token(token, now)
        db.session.commit()
    return db.session.get(ApiToken, token_id)


def _token_principal(raw: str) -> Principal:
    """Authenticate a bearer token: a tenant token from this process's cache while it is trusted, else the database.

    The database path is also taken when the token is due its touch, so last_used_at and the
    `token.use` audit stay exactly as frequent as without the cache.
    """
    parsed = tokens.parse(raw)
    if parsed is None:
        raise Unauthorized(_INVALID, code="invalid_token")
    token_id, secret = parsed
    now = clock.now()
    cache = token_cache.for_app()
    # Read before the database, so that a change committed meanwhile invalidates what is stored below.
    generation = cache.generation() if cache is not None else None
    entry = cache.get(token_id, generation, now) if cache is not None else None
    if entry is not None and not touch_due(entry.last_used_at, now):
        if not tokens.secret_matches(entry.secret_hash, secret):
            raise Unauthorized(_INVALID, code="invalid_token")
        return Principal("tenant", tenant_id=entry.tenant_id, token_id=token_id, tenant=cache.tenant(entry))
    token = tokens.lookup(token_id, secret)
    if token is None:
        raise Unauthorized(_INVALID, code="invalid_token")
    if touch_due(token.last_used_at, now):
        token = _touched(token, now)
    if token.kind == "staff":
        staff = get_staff(token.staff_id)
        if not staff.active:
            raise Unauthorized("the staff account is disabled", code="invalid_token")
        return Principal("staff", staff=staff, token_id=token.id)
    if cache is not None:
        cache.put(token, generation, now)
    return Principal("tenant", tenant_id=token.tenant_id, token_id=token.id, tenant=token.tenant)


def load_principal() -> Principal | None:
    """Authenticate the request by bearer token, else by console session."""
    if "principal" in g:
        return g.principal
    principal = None
    # Console pages authenticate by their session cookie alone (their forms carry CSRF tokens):
    # the caller a page checks is then the one its actions are recorded as.
    raw = None if request.path.startswith("/console") else _bearer()
    if raw is not None:
        principal = _token_principal(raw)
    elif current_user.is_authenticated:
        _require_csrf_token()
        if isinstance(current_user._get_current_object(), Staff):
            principal = Principal("staff", staff=current_user._get_current_object())
        else:
            user = current_user._get_current_object()
            if getattr(user, "role", None) == "admin":
                principal = Principal("tenant", tenant_id=user.tenant_id, user=user, tenant=user.tenant)
    if principal is not None:
        if principal.kind == "tenant":
            rls.scope_to_tenant(principal.tenant_id)
        else:
            rls.lift_for_staff()
    g.principal = principal
    return principal


def authenticated() -> Principal:
    """Return the request's principal, or raise 401."""
    principal = load_principal()
    if principal is None:
        raise Unauthorized("authentication required")
    return principal


def ensure_capability(capability: str) -> Principal:
    """Return the principal if it is staff holding `capability`, else raise 401/403."""
    principal = authenticated()
    if not principal.can(capability):
        raise Forbidden("your role may not do this", code="forbidden_role")
    return principal


def current_tenant():
    """Return the tenant the caller acts for (tenant token or signed-in tenant admin), else raise 401/403."""
    principal = authenticated()
    if principal.kind != "tenant":
        raise Forbidden("this endpoint acts for a tenant; use a tenant token", code="tenant_principal_required")
    return principal.tenant


def _require_csrf_token() -> None:
    """A session cookie authorises a change only with the session's CSRF token.

    A page on another site can make the browser send the cookie (SameSite=Lax lets top-level POSTs
    through on some browsers, and any subdomain can send it), never the token: the console's pages
    carry it (meta csrf-token, form fields) and Flask-WTF reads it from X-CSRFToken or csrf_token.
    Bearer tokens are never sent by a browser on its own, so they need none.
    """
    try:
        csrf.protect()  # only for WTF_CSRF_METHODS: POST, PUT, PATCH, DELETE
    except CSRFError as error:
        raise Forbidden(f"a session cookie needs its CSRF token (X-CSRFToken header): {error.description}",
                        code="csrf_failed") from None


def require_staff(capability: str):
    """Decorate a view: a staff principal holding `capability`, else 401/403."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            ensure_capability(capability)
            return view(*args, **kwargs)

        wrapper.required_capability = capability
        return wrapper

    return decorator


def declared_capability(view_func, method: str) -> str | None:
    """Return the capability a view (or a MethodView's method) declares with require_staff."""
    view_class = getattr(view_func, "view_class", None)
    if view_class is not None:
        name = method.lower()
        view_func = getattr(view_class, name, None) or (getattr(view_class, "get", None) if name == "head" else None)
    return getattr(view_func, "required_capability", None)


def check_declared_capability():
    """Before any parsing: refuse a staff endpoint to the wrong caller (401/403), not a 400 on its body."""
    view_func = current_app.view_functions.get(request.endpoint)
    if view_func is None or request.path.startswith("/console"):
        return
    capability = declared_capability(view_func, request.method)
    if capability is not None:
        ensure_capability(capability)


def require_tenant():
    """Decorate a view: a tenant token or signed-in tenant admin, else 401/403; the view gets `tenant=`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, tenant=current_tenant(), **kwargs)

        return wrapper

    return decorator
