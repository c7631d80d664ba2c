"""Make the controller scope usable: its keys, and the suppression list's key check.

Both run lazily before the first write of the scope (so a fresh install works with no
extra step) and explicitly with `privacy-saas controller init` (so operators can create
them at deploy time, before two requests could race to do it).
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from privacy_saas.controller.suppression import service as suppression
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE
from privacy_saas.crypto.models import DataKey
from privacy_saas.crypto.service import ensure_controller_keys
from privacy_saas.extensions import db

log = logging.getLogger(__name__)


def ensure_ready() -> None:
    """Create the controller keys and the suppression key check if missing; verify the check."""
    # Ask the database, not the key cache: the cache may outlive a rolled-back creation.
    if db.session.scalar(sa.select(DataKey.id).where(DataKey.scope == CONTROLLER_SCOPE).limit(1)) is None:
        try:
            # A savepoint, so losing a race with another process leaves our transaction usable.
            with db.session.begin_nested():
                ensure_controller_keys()
        except IntegrityError:
            log.info("controller keys were created concurrently")
    suppression.check_key()
