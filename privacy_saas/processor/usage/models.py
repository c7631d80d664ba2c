"""Usage records a tenant's web app accumulates per registered user."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_id, person_state, personal, table
from privacy_saas.db import choice, new_id
from privacy_saas.distribution import TENANT, distribution
from privacy_saas.extensions import db

EVENT_KINDS = ("session", "page_view", "report_download", "email_delivered", "email_opened", "email_clicked")


class UsageEvent(EncryptedModel, db.Model):
    """One thing a registered user did (or an e-mail sent to them); details sealed."""

    __tablename__ = "usage_events"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["registered_users.tenant_id", "registered_users.id"],
                                ondelete="CASCADE"),
        sa.Index("ix_usage_events_tenant_occurred", "tenant_id", "occurred_at"),
        sa.Index("ix_usage_events_tenant_user", "tenant_id", "user_id"),
        choice("kind", "kind", EVENT_KINDS),
        # 32 hash partitions by tenant on PostgreSQL (migration 0016b, usage/partitions.py).
        distribution(TENANT, postgresql_partition_by="HASH (tenant_id)"),
    )
    __datamap__ = table(scope="processor", purpose="usage_records", retention="tenant_usage")

    #: No foreign key of its own to tenants: the one to registered_users implies it.
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    user_id: Mapped[uuid.UUID] = mapped_column(info=person_id("registered_user"))
    #: session, page_view, report_download, email_delivered, email_opened, email_clicked.
    kind: Mapped[str] = mapped_column(sa.String(32), info=person_state("registered_user", "usage"))
    #: When it happened (drives usage retention and monthly aggregates).
    occurred_at: Mapped[datetime] = mapped_column(info=person_state("registered_user", "usage"))
    detail_ct: Mapped[bytes | None] = ciphertext_column(
        "detail_ct", personal(("usage", "technical_ids"), subject="registered_user"))

    #: Free-form JSON (page path, report name, IP address, user agent...): may be personal.
    detail = Encrypted("json")


class SupportRequest(EncryptedModel, db.Model):
    """A support request a registered user filed; subject and body sealed."""

    __tablename__ = "support_requests"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["registered_users.tenant_id", "registered_users.id"],
                                ondelete="CASCADE"),
        sa.Index("ix_support_requests_tenant_user", "tenant_id", "user_id"),
        choice("status", "status", ("open", "closed")),
        distribution(TENANT),
    )
    __datamap__ = table(scope="processor", purpose="user_support", retention="tenant_contract")

    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    user_id: Mapped[uuid.UUID] = mapped_column(info=person_id("registered_user"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", info=person_state("registered_user", "support"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state("registered_user", "support"))
    subject_ct: Mapped[bytes | None] = ciphertext_column("subject_ct", personal("support", subject="registered_user"))
    body_ct: Mapped[bytes | None] = ciphertext_column("body_ct", personal("support", subject="registered_user"))

    subject = Encrypted("str")
    body = Encrypted("str")
