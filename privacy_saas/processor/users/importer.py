"""Bulk import of a tenant's users from `email,name,role` CSV (API, console, CLI)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from privacy_saas import audit
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.gates import ensure_writable
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import service
from privacy_saas.processor.users.validation import check_email, check_fields


@dataclass
class ImportResult:
    """What an import did: counts, and the rejected rows with their line numbers and errors."""

    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    invitations: list = field(default_factory=list)


class CsvError(AppError):
    """The file is not the expected CSV (nothing was imported)."""

    code = "invalid_csv"


def parse_csv(text: str) -> Iterator[tuple[int, dict]]:
    """Yield (line number, {email, name, role}) for each data row of an `email,name,role` CSV."""
    reader = csv.reader(io.StringIO(text))
    seen_data = False
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        if not seen_data and row[0].strip().lower() == "email":
            seen_data = True  # a header line
            continue
        seen_data = True
        cells = [cell.strip() for cell in row]
        values = {"email": cells[0], "name": cells[1] if len(cells) > 1 else "",
                  "role": (cells[2].lower() if len(cells) > 2 else "") or "member"}
        if len(cells) > 3:
            values["_extra"] = True
        yield reader.line_num, values


def import_rows(tenant: Tenant, rows: Iterable[tuple[int, dict]], *, invite: bool = True, actor=None,
                on_row: Callable[[int], None] | None = None) -> ImportResult:
    """Add each row's user: a bad row is rejected with its line and writes nothing; existing users are left."""
    ensure_writable(tenant)
    result = ImportResult()
    for line, values in rows:
        try:
            if values.get("_extra"):
                raise AppError("the request is invalid", code="invalid_input",
                               errors={"_row": ["expected 3 columns: email,name,role"]})
            email = check_email(values.get("email"))
            check_fields({"display_name": values.get("name") or None, "role": values.get("role")})
            if service.find_by_email(tenant, email) is not None:
                result.unchanged += 1
            else:
                with db.session.begin_nested():
                    user = service.create(tenant, email=email, display_name=values.get("name") or None,
                                          role=values["role"], invite=invite, actor=actor)
                result.created += 1
                if user.invitation is not None:
                    result.invitations.append(user.invitation)
        except AppError as exc:
            result.rejected += 1
            result.errors.append({"line": line, "code": exc.code,
                                  "errors": exc.errors or {"_row": [exc.message]}})
        if on_row is not None:
            on_row(line)
    audit.record("user.import", tenant_id=tenant.id, actor=actor,
                 detail={"created": result.created, "unchanged": result.unchanged, "rejected": result.rejected})
    return result


def import_csv(tenant: Tenant, text: str, **kwargs) -> ImportResult:
    """Import users from `email,name,role` CSV text."""
    try:
        rows = list(parse_csv(text))
    except csv.Error as exc:
        raise CsvError(f"the file is not valid CSV: {exc}") from None
    return import_rows(tenant, rows, **kwargs)
