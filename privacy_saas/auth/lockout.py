"""Password sign-in with lockout: one mechanism for staff and registered users.

After MAX_FAILED_LOGINS wrong passwords in a row an account is locked for LOCKOUT, and while
it is locked even the right password is refused. Every refusal spends one password check's
time, so timing tells nothing about which accounts exist or are locked. An account is any
row with `password_hash`, `failed_logins`, `locked_until` and `last_login_at`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from privacy_saas import clock
from privacy_saas.auth.passwords import verify_password

log = logging.getLogger(__name__)

#: Failed sign-ins in a row before the account is locked for LOCKOUT.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def check_password(account, password: str, failed: Callable[..., None]) -> bool:
    """Return whether `password` opens `account` (None: no such account) now.

    A refusal calls `failed(reason, **detail)`, reason `locked`, `bad_credentials` or
    `unknown_account`; a wrong password counts towards the lockout.
    """
    now = clock.now()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        verify_password(None, password)
        failed("locked")
        return False
    if not verify_password(account.password_hash if account is not None else None, password) or account is None:
        locked = account is not None and _count_failure(account, now)
        failed("bad_credentials" if account is not None else "unknown_account", locked=locked)
        return False
    return True


def _count_failure(account, now: datetime) -> bool:
    """Count a wrong password; return whether it locked the account."""
    account.failed_logins = (account.failed_logins or 0) + 1
    if account.failed_logins < MAX_FAILED_LOGINS:
        return False
    account.locked_until = now + LOCKOUT
    account.failed_logins = 0
    log.warning("%s %s locked after repeated failed sign-ins", type(account).__name__, account.id)
    return True


def signed_in(account) -> None:
    """Record a successful sign-in: failures are forgotten."""
    unlock(account)
    account.last_login_at = clock.now()


def unlock(account) -> None:
    """Forget failures and lift a lock (a new password was set)."""
    account.failed_logins = 0
    account.locked_until = None
