"""Sub-processors of the vendor (Art. 28(2), Art. 30 record)."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, table
from privacy_saas.db import uuid_pk
from privacy_saas.distribution import VENDOR_LOCAL, distribution
from privacy_saas.extensions import db


#: The scopes whose data a sub-processor can receive.
SCOPES = ("processor", "controller")
#: An ISO 3166-1 alpha-2 country code.
COUNTRY_CODE = r"^[A-Z]{2}$"


class Subprocessor(db.Model):
    """A company that processes personal data on the vendor's behalf."""

    __tablename__ = "subprocessors"
    __table_args__ = distribution(VENDOR_LOCAL)
    __datamap__ = table(scope="operational", purpose="vendor_register", retention="platform_record")

    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: Company name (e.g. the e-mail delivery provider).
    name: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: What it does for the vendor and which data it sees.
    purpose: Mapped[str] = mapped_column(sa.String(500), info=not_personal())
    #: Where the data is processed (country or region).
    location: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: Transfer safeguards: adequacy decision, SCCs, UK IDTA, ...
    safeguards: Mapped[str] = mapped_column(sa.String(500), info=not_personal())
    #: When the data processing agreement was signed.
    dpa_signed_on: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    #: Last annual review of its safeguards and DPA.
    last_reviewed_on: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    #: When it entered the register; tenants see changes by this date.
    added_at: Mapped[datetime] = mapped_column(default=clock.now, index=True, info=not_personal())
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now, info=not_personal())
    #: When it left the register; kept so tenants can see the change.
    removed_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: Whose data it receives: `processor` (tenants') and/or `controller` (the vendor's own); empty: not
    #: classified yet (entries made before the data map), so the records show it under every scope.
    scopes: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]", info=not_personal())
    #: Data-map categories it receives (privacy_saas.datamap.vocabulary.CATEGORIES); empty: not classified.
    data_categories: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]", info=not_personal())
    #: Categories as given that name no data-map category ("Voice recordings"), shown as they were written;
    #: the records count an entry with any as possibly receiving every category.
    data_category_labels: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]",
                                                       info=not_personal())
    #: ISO 3166-1 alpha-2 code of the country where it processes the data; decides third-country transfers.
    country: Mapped[str | None] = mapped_column(sa.String(2), info=not_personal())
    #: Tenant regions whose data it processes (a hosting region per residency); empty: every region.
    tenant_regions: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]", info=not_personal())

    def __repr__(self) -> str:
        return f"<Subprocessor {self.id}>"
