"""CSV import of contacts: parse and check the whole file first, then write in batches.

A file-level problem (size, encoding, header, malformed CSV) stops the import before
anything is written. A bad row is rejected with its line number and the rest goes in.
Per batch: one IN query for suppressed hashes, one for existing contacts, a bulk insert.
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from privacy_saas import audit, clock
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts.models import LAWFUL_BASES, SOURCES, Contact
from privacy_saas.controller.contacts.validation import clean_email, clean_phone, clean_text
from privacy_saas.controller.suppression import service as suppression
from privacy_saas.crypto.blind_index import normalise_email
from privacy_saas.crypto.errors import CryptoError
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, keyring
from privacy_saas.db import new_id
from privacy_saas.errors import AppError
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

COLUMNS = ("email", "name", "phone", "company", "job_title")
REQUIRED = ("email",)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
BATCH_SIZE = 1000
#: Rejections listed in a report; the count is always complete.
MAX_LISTED = 1000


class CsvFileError(AppError):
    """The file as a whole cannot be imported; nothing was written."""

    status = 400
    code = "invalid_csv"

    def __init__(self, message: str, line: int | None = None):
        text = f"line {line}: {message}" if line else message
        super().__init__(text, errors={"file": [text]})
        self.line = line


@dataclass
class Row:
    """One valid CSV row."""

    line: int
    email: str
    name: str | None
    phone: str | None
    company: str | None
    job_title: str | None


@dataclass
class Rejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did; counts and line numbers only."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    suppressed_lines: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(Rejection(line, reason))

    def counts(self) -> dict:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "suppressed": self.suppressed, "rejected": self.rejected_count}


def max_bytes() -> int:
    """Return the largest file the importer accepts (CONTROLLER_IMPORT_MAX_BYTES)."""
    return int(current_app.config.get("CONTROLLER_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def decode(data: bytes, limit: int | None = None) -> str:
    """Check size and encoding (UTF-8, BOM allowed); raise CsvFileError."""
    limit = max_bytes() if limit is None else limit
    if len(data) > limit:
        raise CsvFileError(f"the file is larger than the {limit // (1024 * 1024)} MiB limit "
                           f"({len(data) / (1024 * 1024):.1f} MiB); split it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CsvFileError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                           line=line) from None


def _header(names: list[str]) -> list[str]:
    header = [name.strip().lower() for name in names]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CsvFileError(f"unknown column(s) {', '.join(repr(n) for n in unknown)}; "
                           f"expected a header of {', '.join(COLUMNS)} (email required)", line=1)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvFileError(f"missing column(s) {', '.join(missing)}; expected a header of "
                           f"{', '.join(COLUMNS)} (email required)", line=1)
    if len(set(header)) != len(header):
        raise CsvFileError("a column appears twice in the header", line=1)
    return header


def parse(text: str, report: ImportReport) -> list[Row]:
    """Parse and validate every row; rejected rows go to `report`, file errors raise CsvFileError."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0
    try:
        first = next(reader, None)
        if first is None or not any(cell.strip() for cell in first):
            raise CsvFileError("the file is empty; expected a header line", line=1)
        header = _header(first)
        rows: list[Row] = []
        seen: dict[str, int] = {}
        end = reader.line_num
        for record in reader:
            line, end = end + 1, reader.line_num
            if not record:
                continue
            report.rows += 1
            if len(record) != len(header):
                report.reject(line, f"expected {len(header)} fields, found {len(record)}")
                continue
            values = dict(zip(header, record))
            try:
                row = Row(line=line, email=clean_email(values["email"]),
                          name=clean_text(values.get("name"), "name"),
                          phone=clean_phone(values.get("phone")),
                          company=clean_text(values.get("company"), "company"),
                          job_title=clean_text(values.get("job_title"), "job_title"))
            except ValueError as exc:
                report.reject(line, str(exc))
                continue
            key = normalise_email(row.email)
            if key in seen:
                report.reject(line, f"duplicate of line {seen[key]}")
                continue
            seen[key] = line
            rows.append(row)
    except csv.Error as exc:
        # Name the line where the broken record starts (a quoted field may span lines).
        raise CsvFileError(f"malformed CSV ({exc})", line=end + 1) from None
    return rows


def read(data: bytes, report: ImportReport, limit: int | None = None) -> list[Row]:
    """Decode and parse an uploaded file."""
    return parse(decode(data, limit), report)


def _check_choice(value: str, allowed, what: str) -> None:
    if value not in allowed:
        raise AppError(f"unknown {what} {value!r}; use one of {', '.join(allowed)}", code="invalid_input",
                       errors={what: [f"must be one of {', '.join(allowed)}"]})


def write(rows: list[Row], report: ImportReport, *, source: str, basis: str, batch_size: int = BATCH_SIZE,
          on_batch=None) -> ImportReport:
    """Create or update contacts from parsed rows, a batch at a time; refuse suppressed addresses.

    Existing contacts keep their source, basis and collection date; non-empty fields of the
    file replace theirs. `on_batch(report, done)` runs after each flushed batch (the CLI
    commits there, so a long import can be re-run after a crash: done rows count as unchanged).
    """
    _check_choice(source, SOURCES, "source")
    _check_choice(basis, LAWFUL_BASES, "lawful_basis")
    ensure_ready()
    ring = keyring()
    done = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        hashes = [suppression.email_hash(row.email) for row in batch]
        blocked = suppression.suppressed(hashes)
        bidxs = [ring.email_index(CONTROLLER_SCOPE, row.email) for row in batch]
        existing = {c.email_bidx: c for c in db.session.scalars(
            sa.select(Contact).where(Contact.email_bidx.in_(bidxs)))}
        now = clock.now()
        new = []
        for row, hash_, bidx in zip(batch, hashes, bidxs):
            if hash_ in blocked:
                report.suppressed += 1
                report.suppressed_lines.append(row.line)
                continue
            contact = existing.get(bidx)
            if contact is None:
                new.append({**_sealed(row), "email_bidx": bidx, "company": row.company, "source": source,
                            "lawful_basis": basis, "created_at": now, "updated_at": now,
                            "is_customer_contact": False, "do_not_contact": False, "restricted": False})
                continue
            try:
                changed = _merge(contact, row)
            except CryptoError:
                report.reject(row.line, "the existing contact for this address cannot be decrypted; not updated")
                continue
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        if new:
            # A Core executemany of ready rows: no ORM unit of work or bulk-persistence layer.
            db.session.connection().execute(Contact.__table__.insert(), new)
        db.session.flush()
        report.created += len(new)
        done += len(batch)
        if on_batch is not None:
            on_batch(report, done)
        # Loaded contacts are not needed again; keep the identity map (and memory) small.
        for contact in existing.values():
            db.session.expunge(contact)
    audit.record("contacts.import", scope="controller", detail={**report.counts(), "source": source,
                                                                "lawful_basis": basis})
    return report


class _NewContact:
    """Stand-in for a Contact row being bulk-inserted: what the Encrypted descriptor needs to seal.

    The descriptor binds each value to table, column, scope and row id (AAD) exactly as for
    an ORM instance, so these rows decrypt like any other.
    """

    __tablename__ = Contact.__tablename__
    __key_scope_kind__ = Contact.__key_scope_kind__
    key_scope = CONTROLLER_SCOPE

    def __init__(self):
        self.id = new_id()


_SEALED = ("email", "name", "phone", "job_title")


def _sealed(row: Row) -> dict:
    """Return the id and the ciphertext columns of a new contact."""
    stub = _NewContact()
    values = {"id": stub.id}
    for name in _SEALED:
        descriptor = getattr(Contact, name)
        value = getattr(row, name)
        if value is not None:
            descriptor.__set__(stub, value)
            values[descriptor.column] = getattr(stub, descriptor.column)
        else:
            values[descriptor.column] = None
    return values


def _merge(contact: Contact, row: Row) -> bool:
    changed = False
    for name in ("name", "phone", "job_title", "company"):
        value = getattr(row, name)
        if value is not None and value != getattr(contact, name):
            setattr(contact, name, value)
            changed = True
    return changed


def import_file(data: bytes, *, source: str, basis: str, limit: int | None = None, batch_size: int = BATCH_SIZE,
                on_parsed=None, on_batch=None) -> ImportReport:
    """Check the whole file, then write its valid rows; raise CsvFileError before writing anything."""
    _check_choice(source, SOURCES, "source")
    _check_choice(basis, LAWFUL_BASES, "lawful_basis")
    report = ImportReport()
    rows = read(data, report, limit)
    if on_parsed is not None:
        on_parsed(report, rows)
    return write(rows, report, source=source, basis=basis, batch_size=batch_size, on_batch=on_batch)
