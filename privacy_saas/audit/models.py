"""Audit entries and the head of each scope's hash chain."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas.db import uuid_pk
from privacy_saas.extensions import db


class AuditEntry(db.Model):
    """One recorded instruction, staff action or job outcome."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.UniqueConstraint("scope", "seq"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    #: Chain: `tenant:<uuid>`, `controller` or `platform`.
    scope: Mapped[str] = mapped_column(sa.String(64))
    #: Position in the scope's chain, from 1, in the order the recording transactions committed.
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    #: When the action was recorded (so two concurrent transactions may chain in the other order).
    at: Mapped[datetime]
    #: staff, tenant_admin, tenant_token, scim, registered_user, system, cli.
    actor_kind: Mapped[str] = mapped_column(sa.String(32))
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: Dotted verb, e.g. `user.create`, `tenant.end_contract`, `purge.keys_destroyed`.
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    #: Tenant concerned, kept after its purge (an id is not personal data).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    #: Ids of the objects acted on.
    targets: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: ok, denied, failed.
    outcome: Mapped[str] = mapped_column(sa.String(16), default="ok")
    #: Counts and codes only.
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class AuditHead(db.Model):
    """The last link of a scope's chain; locked by each writer so chains never fork."""

    __tablename__ = "audit_heads"

    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
