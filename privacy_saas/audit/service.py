"""Write and verify the audit chains."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from privacy_saas import clock, csvsafe
from privacy_saas.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from privacy_saas.db import new_id
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

GENESIS = b"\x00" * 32
#: session.info key of the entries recorded in the open transaction, with the (sub)transaction of each.
_PENDING = "audit_pending"
#: What a string in `detail` or `targets` may look like: ids, slugs, codes. Never an e-mail or a name.
_SAFE = re.compile(r"^[A-Za-z0-9_.:/-]{0,80}$")


def scope_of(tenant_id) -> str:
    """Return the chain of a tenant (or `platform` when there is none)."""
    return f"tenant:{tenant_id}" if tenant_id else "platform"


def _safe(value, where: str):
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and _SAFE.match(value) and "@" not in value:
        return value
    if isinstance(value, (list, tuple)):
        return [_safe(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v, where) for k, v in value.items()}
    raise ValueError(f"audit {where} may hold ids, codes and counts only")


def canonical(entry: AuditEntry) -> bytes:
    """Return the canonical JSON the hash covers."""
    body = {
        "scope": entry.scope, "seq": entry.seq, "at": entry.at.isoformat(),
        "actor_kind": entry.actor_kind, "actor_id": entry.actor_id, "action": entry.action,
        "tenant_id": str(entry.tenant_id) if entry.tenant_id else None,
        "targets": entry.targets, "outcome": entry.outcome, "detail": entry.detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_HEADS, _ENTRIES = AuditHead.__table__, AuditEntry.__table__
#: Built once (Core): every write of the product runs them at commit.
_LOCK_HEAD = (sa.select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.scope == sa.bindparam("scope"))
              .with_for_update())
_MOVE_HEAD = _HEADS.update().where(_HEADS.c.scope == sa.bindparam("head_scope")).values(
    seq=sa.bindparam("head_seq"), hash=sa.bindparam("head_hash"))
_ENTRY_COLUMNS = tuple(c.name for c in _ENTRIES.columns)


def _lock_head(connection: sa.Connection, scope: str) -> tuple[int, bytes]:
    """Return the (seq, hash) of the scope's head, locked until the transaction ends.

    FOR UPDATE serialises writers of one scope on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
    """
    head = connection.execute(_LOCK_HEAD, {"scope": scope}).first()
    if head is not None:
        return head.seq, head.hash
    # The scope's first entry: create its head (a concurrent first writer may win), then lock it.
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(insert(_HEADS).values(scope=scope, seq=0, hash=GENESIS)
                       .on_conflict_do_nothing(index_elements=["scope"]))
    head = connection.execute(_LOCK_HEAD, {"scope": scope}).one()
    return head.seq, head.hash


def current_actor() -> tuple[str, str | None]:
    """Return the actor of the current request, or the system."""
    if has_request_context():
        principal = g.get("principal")
        if principal is not None:
            return principal.actor
    return "system", None


def current_actor_label() -> str:
    """Return the actor of the current request as one string (`staff:<id>`, `tenant_admin:<id>`, `system`)."""
    kind, actor_id = current_actor()
    return f"{kind}:{actor_id}" if actor_id else kind


def record(action: str, *, tenant_id=None, scope: str | None = None, targets=(), outcome: str = "ok",
           detail: dict | None = None, actor: tuple[str, str | None] | None = None) -> AuditEntry:
    """Add an entry to the caller's transaction; it joins its scope's chain when that transaction commits.

    Chaining at commit keeps each chain's head locked only for the last statements of a
    transaction (lock, insert, update, commit), not for whatever work follows the action.
    """
    scope = scope or scope_of(tenant_id)
    actor_kind, actor_id = actor or current_actor()
    entry = AuditEntry(
        id=new_id(), scope=scope, at=clock.now(), actor_kind=actor_kind,
        actor_id=str(actor_id) if actor_id is not None else None, action=action,
        tenant_id=tenant_id, targets=_safe(list(targets), "targets"), outcome=outcome,
        detail=_safe(detail or {}, "detail"),
    )
    session = db.session()
    session.connection()  # the entry belongs to this transaction: begin it now if need be
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((transaction, entry))
    return entry


def _chain_pending(session: Session) -> None:
    """Append the transaction's queued entries to their chains, each head locked once."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    by_scope: dict[str, list[AuditEntry]] = {}
    for _transaction, entry in pending:
        by_scope.setdefault(entry.scope, []).append(entry)
    # Every writer locks heads in the same (sorted) order, so two transactions never deadlock over heads.
    # Core statements on the session's connection: the entries are written once, never changed, and
    # the unit of work's bookkeeping for them cost more than the statements.
    connection = session.connection()
    for scope in sorted(by_scope):
        seq, prev = _lock_head(connection, scope)
        rows = []
        for entry in by_scope[scope]:
            entry.seq, entry.prev_hash = seq + 1, prev
            entry.hash = hashlib.sha256(prev + canonical(entry)).digest()
            seq, prev = entry.seq, entry.hash
            rows.append({name: getattr(entry, name) for name in _ENTRY_COLUMNS})
        connection.execute(_ENTRIES.insert(), rows)
        connection.execute(_MOVE_HEAD, {"head_scope": scope, "head_seq": seq, "head_hash": prev})


def _inside(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@sa.event.listens_for(Session, "before_commit")
def _on_commit(session):
    # A released SAVEPOINT hands its entries to the enclosing transaction; only the outermost chains them.
    if not session.in_nested_transaction():
        _chain_pending(session)


@sa.event.listens_for(Session, "after_soft_rollback")
def _on_rollback(session, transaction):
    pending = session.info.get(_PENDING)
    if pending:
        # A failed flush rolls back its own subtransaction and, in the database, the SAVEPOINT or
        # transaction around it: drop what was recorded anywhere inside that boundary.
        while transaction.parent is not None and not transaction.nested:
            transaction = transaction.parent
        session.info[_PENDING] = [(t, e) for t, e in pending if not _inside(t, transaction)]


@sa.event.listens_for(Session, "after_commit")
def _check_chained(session):
    # Committing the root SessionTransaction object while a SAVEPOINT is still open skips the
    # chaining above; nothing here does that, and it must never pass silently.
    if not session.in_nested_transaction() and session.info.get(_PENDING):
        log.error("%d audit entries were committed without being chained", len(session.info[_PENDING]))


@sa.event.listens_for(Session, "after_transaction_end")
def _on_end(session, transaction):
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@dataclass
class ChainReport:
    scope: str
    entries: int
    broken_at: int | None = None
    reason: str = ""


def chains() -> list[str]:
    """Return every chain: those with a head, with entries or ever signed (a chain may have lost any)."""
    heads = db.session.scalars(sa.select(AuditHead.scope))
    with_entries = db.session.scalars(sa.select(AuditEntry.scope).distinct())
    signed = db.session.scalars(sa.select(AuditCheckpoint.chain).distinct())
    return sorted(set(heads) | set(with_entries) | set(signed))


def latest_signed(scope: str) -> tuple[int, bytes] | None:
    """Return (seq, hash) of the chain's latest checkpoint kept in the database, if any."""
    row = db.session.execute(sa.select(AuditCheckpoint.seq, AuditCheckpoint.hash)
                             .where(AuditCheckpoint.chain == scope)
                             .order_by(AuditCheckpoint.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else None


def verify(scope: str | None = None, batch: int = 5000) -> list[ChainReport]:
    """Walk each chain (or one) and check it against its head and its latest checkpoint kept in the
    database; report the first break of each.

    The stored checkpoint catches a chain truncated or recomputed together with its head, unless
    whoever did it also deleted the checkpoints: only a checkpoint kept outside (`verify_chain`'s
    anchor, from `audit verify --checkpoint`) survives that.
    """
    return [verify_chain(name, anchor=latest_signed(name), batch=batch)
            for name in ([scope] if scope else chains())]


def verify_chain(scope: str, *, anchor: tuple[int, bytes] | None = None, batch: int = 5000) -> ChainReport:
    """Walk one chain from its first entry, check it ends where its head says and, given an anchor
    (seq, hash) from a signed checkpoint, that the entry at that seq still has that hash."""
    report = ChainReport(scope, 0)
    prev, last_seq = GENESIS, 0
    while report.broken_at is None:
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.scope == scope, AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != last_seq + 1:
                report.broken_at, report.reason = last_seq + 1, "entry missing"
                break
            if entry.prev_hash != prev or hashlib.sha256(prev + canonical(entry)).digest() != entry.hash:
                report.broken_at, report.reason = entry.seq, "hash mismatch"
                break
            if anchor is not None and entry.seq == anchor[0] and entry.hash != anchor[1]:
                report.broken_at, report.reason = entry.seq, ("differs from the signed checkpoint: the history up "
                                                              "to it was rewritten")
                break
            prev, last_seq = entry.hash, entry.seq
            report.entries += 1
        db.session.expunge_all()
    if report.broken_at is not None:
        return report
    if anchor is not None and last_seq < anchor[0]:
        report.broken_at = last_seq + 1
        report.reason = f"the chain ends at #{last_seq}, before the signed checkpoint's #{anchor[0]}: entries were removed"
        return report
    # Read after the walk: a writer commits its entries and the head together, so the head read now
    # is at least as far as anything walked (a concurrent commit only moves it further).
    head = db.session.get(AuditHead, scope, populate_existing=True)
    if head is None:
        if last_seq:
            report.broken_at, report.reason = 1, "the chain has no head (its audit_heads row was deleted)"
    elif head.seq > last_seq and not _appended_since(scope, last_seq, head.seq):
        report.broken_at = last_seq + 1
        report.reason = (f"entries #{last_seq + 1} to #{head.seq} are missing (its head is at #{head.seq})"
                         if last_seq else f"every entry is gone (its head is at #{head.seq})")
    elif head.seq < last_seq:
        report.broken_at, report.reason = head.seq + 1, f"entries after its head (#{head.seq}): the head was moved back"
    elif head.seq == last_seq and head.hash != prev:
        report.broken_at, report.reason = head.seq, "its head's hash is not that of its last entry"
    return report


def _appended_since(scope: str, last_seq: int, head_seq: int) -> bool:
    """Return whether entries last_seq+1 .. head_seq exist now: committed while the walk ran."""
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.scope == scope, AuditEntry.seq > last_seq, AuditEntry.seq <= head_seq))
    return count == head_seq - last_seq


def query(*, tenant_id=None, action: str | None = None, outcome: str | None = None,
          since=None, until=None) -> sa.Select:
    """Return the entries matching the filters, newest first."""
    stmt = sa.select(AuditEntry)
    if tenant_id is not None:
        stmt = stmt.where(AuditEntry.tenant_id == tenant_id)
    if action:
        # `user.` matches every user action; `user.create` only that one.
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True)
                          if action.endswith(".") else AuditEntry.action == action)
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def list_entries(*, page_number: int = 1, page_size: int = 50, **filters) -> tuple[list[AuditEntry], int]:
    """Return one page of entries matching `filters` and the total."""
    stmt = query(**filters)
    items = list(db.session.scalars(stmt.offset((page_number - 1) * page_size).limit(page_size)))
    total = db.session.scalar(stmt.with_only_columns(sa.func.count(), maintain_column_froms=True)
                              .order_by(None))
    return items, total


CSV_COLUMNS = ("at", "scope", "seq", "actor_kind", "actor_id", "action", "tenant_id", "targets",
               "outcome", "detail", "prev_hash", "hash")


def iter_csv(limit: int, **filters):
    """Yield the CSV export of the matching entries (header first), at most `limit` rows."""
    buffer = io.StringIO()
    writer = csvsafe.Writer(buffer)

    def line(values):
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    stmt = query(**filters).limit(limit).execution_options(yield_per=1000)
    for entry in db.session.scalars(stmt):
        yield line([
            entry.at.isoformat(), entry.scope, entry.seq, entry.actor_kind, entry.actor_id or "",
            entry.action, str(entry.tenant_id) if entry.tenant_id else "",
            json.dumps(entry.targets, separators=(",", ":")), entry.outcome,
            json.dumps(entry.detail, sort_keys=True, separators=(",", ":")),
            entry.prev_hash.hex(), entry.hash.hex(),
        ])
