"""Audit entries and the head of each scope's hash chain."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas.datamap import not_personal, person_id, personal, table
from privacy_saas.db import uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db


#: Why what an actor did, and when, is plaintext.
AUDIT_FACT = ("what an actor did and when, next to opaque ids: accountability needs it readable, and after a purge "
              "or erasure nothing maps the ids back to a person")


class AuditEntry(db.Model):
    """One recorded instruction, staff action or job outcome."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.UniqueConstraint("scope", "seq"), distribution(VENDOR_LOCAL))
    #: An entry is about its actor and targets, named by opaque id only.
    __datamap__ = table(scope="operational", purpose="accountability", retention="audit_trail",
                        lawful_basis="legal_obligation")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: Chain: `tenant:<uuid>`, `controller` or `platform`.
    scope: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    #: Position in the scope's chain, from 1, in the order the recording transactions committed.
    seq: Mapped[int] = mapped_column(sa.BigInteger, info=not_personal())
    #: When the action was recorded (so two concurrent transactions may chain in the other order).
    at: Mapped[datetime] = mapped_column(info=personal(
        "usage", subject=("staff", "registered_user"), plaintext_because=AUDIT_FACT))
    #: staff, tenant_admin, tenant_token, scim, registered_user, system, cli.
    actor_kind: Mapped[str] = mapped_column(sa.String(32), info=not_personal())
    actor_id: Mapped[str | None] = mapped_column(sa.String(64), info=person_id(("staff", "registered_user")))
    #: Dotted verb, e.g. `user.create`, `tenant.end_contract`, `purge.keys_destroyed`.
    action: Mapped[str] = mapped_column(sa.String(64), index=True, info=personal(
        "usage", subject=("staff", "registered_user"), plaintext_because=AUDIT_FACT))
    #: Tenant concerned, kept after its purge (an id is not personal data).
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True, info=not_personal())
    #: Ids of the objects acted on.
    targets: Mapped[list] = mapped_column(sa.JSON, default=list, info=person_id(
        ("registered_user", "contact", "staff", "requester")))
    #: ok, denied, failed.
    outcome: Mapped[str] = mapped_column(sa.String(16), default="ok", info=not_personal())
    #: Counts and codes only.
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict, info=not_personal())
    prev_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), info=not_personal())
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), info=not_personal())


class AuditHead(db.Model):
    """The last link of a scope's chain; locked by each writer so chains never fork."""

    __tablename__ = "audit_heads"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="accountability", retention="audit_trail")

    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True, info=not_personal())
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0, info=not_personal())
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), info=not_personal())


#: What a checkpoint's signature covers (the `type` of its signed document).
CHECKPOINT_TYPE = "privacy_saas.audit_checkpoint/v1"
#: Chain names: a tenant's (`tenant:<uuid>`), the controller scope's, the platform's.
CHAIN_NAME = r"tenant:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|controller|platform"


class AuditCheckpoint(db.Model):
    """A chain's head (seq, hash) signed with the installation's Ed25519 key.

    Copies held outside the database (the tenant's, the operator's) prove later that the chain
    still extends it: rewriting any entry up to `seq`, even with every later hash recomputed,
    changes the hash at `seq`. No tenant_id column: checkpoints outlive the purge, as the audit does.
    """

    __tablename__ = "audit_checkpoints"
    __table_args__ = (sa.UniqueConstraint("chain", "seq"),
                      sa.Index("ix_audit_checkpoints_chain_signed_at", "chain", "signed_at"),
                      distribution(VENDOR_LOCAL))
    #: The head of a chain and a signature: nothing about anyone.
    __datamap__ = table(scope="operational", purpose="accountability", retention="audit_trail")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: The chain (an audit scope): `tenant:<uuid>`, `controller` or `platform`.
    chain: Mapped[str] = mapped_column(sa.String(64), info=not_personal())
    #: The head's position when signed.
    seq: Mapped[int] = mapped_column(sa.BigInteger, info=not_personal())
    #: The head's hash when signed (that of entry `seq`).
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), info=not_personal())
    #: When it was signed, to the second (part of what is signed).
    signed_at: Mapped[datetime] = mapped_column(info=not_personal())
    #: Fingerprint of the public key that verifies the signature (/api/v1/signing-key).
    key_id: Mapped[str] = mapped_column(sa.String(32), info=not_personal())
    #: Ed25519.
    algorithm: Mapped[str] = mapped_column(sa.String(16), info=not_personal())
    #: Base64 signature over the canonical JSON of `document()`.
    signature: Mapped[str] = mapped_column(sa.String(128), info=not_personal())

    def document(self) -> dict:
        """Return what the signature covers."""
        return {"type": CHECKPOINT_TYPE, "chain": self.chain, "seq": self.seq, "hash": self.hash.hex(),
                "signed_at": self.signed_at.isoformat()}

    def envelope(self) -> dict:
        """Return the checkpoint in the signed-document form its signature is verified in."""
        return {"certificate": self.document(), "signature": self.signature, "algorithm": self.algorithm,
                "key_id": self.key_id}

    def signed(self) -> dict:
        """Return the checkpoint as a tenant keeps it: the document, the signature and its key."""
        return {**self.document(), "key_id": self.key_id, "algorithm": self.algorithm, "signature": self.signature}
