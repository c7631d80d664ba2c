"""Privacy contacts of a tenant: e-mail addresses sealed under the tenant's data key."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.crypto.fields import Encrypted, EncryptedModel, ciphertext_column
from privacy_saas.datamap import not_personal, person_state, personal, table
from privacy_saas.db import choice, new_id
from privacy_saas.distribution import TENANT, distribution
from privacy_saas.extensions import db

#: `file`: named in the tenant file (the contract; apply adds and removes them);
#: `console`: added by a tenant admin (only a tenant admin removes them).
SOURCES = ("file", "console")
#: A notice goes to every contact: a handful is what a contract names.
MAX_CONTACTS = 20


class PrivacyContact(EncryptedModel, db.Model):
    """One e-mail address the tenant wants the vendor's privacy notices sent to."""

    __tablename__ = "privacy_contacts"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email_bidx"),
        choice("source", "source", SOURCES),
        distribution(TENANT),
    )
    __datamap__ = table(scope="processor", purpose="notice_recipients", retention="tenant_contract")

    #: The tenant; leads the primary key.
    tenant_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True, info=not_personal())
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, info=not_personal())
    #: HMAC of the normalised e-mail under the tenant's index key: duplicates are found without decrypting.
    email_bidx: Mapped[bytes] = mapped_column(sa.LargeBinary(16), info=personal(
        "technical_ids", subject="client_contact", plaintext_because=(
            "a keyed hash (blind index) of the address: the tenant file and the console find a duplicate without "
            "decrypting; irreversible without the tenant's index key, which the purge destroys")))
    email_ct: Mapped[bytes | None] = ciphertext_column("email_ct", personal("contact_details", subject="client_contact"))
    #: file or console (who manages it).
    source: Mapped[str] = mapped_column(sa.String(16), default="console", info=person_state("client_contact"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=person_state("client_contact"))

    email = Encrypted("str")

    def __repr__(self) -> str:
        return f"<PrivacyContact {self.tenant_id}/{self.id} {self.source}>"
