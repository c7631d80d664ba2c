"""Tenant queries and the plan/apply of declarative tenant files."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.crypto.service import create_tenant_keys
from privacy_saas.errors import Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.privacy_contacts import service as privacy_contacts
from privacy_saas.processor.tenants.files import Drift, TenantSpec, drift, kept_fields, record_applied
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import service as users

log = logging.getLogger(__name__)

#: Tenant files whose tenants one query loads.
SLUGS_PER_QUERY = 1000
#: What `apply` does with values changed in the console or API that the files would revert.
CONSOLE_CHANGES = ("refuse", "accept", "override")


class ConsoleDrift(Conflict):
    """Applying the files would silently revert changes made in the console or API."""

    code = "console_drift"

    def __init__(self, found: list[Drift]):
        super().__init__("; ".join(d.describe() for d in found))
        self.drift = found


def get(tenant_id) -> Tenant:
    """Return the tenant with `tenant_id`, or raise NotFound."""
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    return tenant


def get_by_slug(slug: str) -> Tenant:
    """Return the tenant named `slug`, or raise NotFound."""
    tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


def list_all(status: str | None = None) -> list[Tenant]:
    """Return all tenants, optionally of one status, by slug."""
    query = sa.select(Tenant).order_by(Tenant.slug)
    if status:
        query = query.where(Tenant.status == status)
    return list(db.session.scalars(query))


def slugs(tenant_ids) -> dict:
    """Return {tenant id: slug} for `tenant_ids` (unknown ids are left out)."""
    ids = {i for i in tenant_ids if i is not None}
    if not ids:
        return {}
    return {row.id: row.slug for row in db.session.execute(sa.select(Tenant.id, Tenant.slug).where(Tenant.id.in_(ids)))}


@dataclass
class Change:
    """What apply would do to one tenant."""

    slug: str
    action: str  # create | update | unchanged | orphaned | locked
    changes: dict = field(default_factory=dict)
    note: str = ""
    #: Values changed in the console or API that this file would revert.
    drift: list[Drift] = field(default_factory=list)
    #: Shared fields whose console value stays (kept by the operator, or accepted in this apply).
    kept: set[str] = field(default_factory=set)

    def describe(self) -> str:
        """Return one human line (and one per drifted value)."""
        if self.action == "update":
            parts = ", ".join(f"{k}: {old} -> {new}" for k, (old, new) in self.changes.items())
            text = f"update contract  {self.slug}  ({parts})"
        else:
            text = f"{self.action:<16} {self.slug}"
        lines = [f"{text}  {self.note}".rstrip()]
        lines += [f"drift            {d.describe()}" for d in self.drift]
        lines += [f"kept             {self.slug}: {name} as set in the console (the file differs)"
                  for name in sorted(self.kept) if name not in {d.field for d in self.drift}]
        return "\n".join(lines)


def _status_after(spec: TenantSpec, current: str | None) -> str | None:
    """Return the status a tenant must move to for the file's contract end, if any."""
    ended = spec.contract_end is not None and spec.contract_end < clock.today()
    if current in (None, "active") and ended:
        return "ended"
    if current == "ended" and not ended:
        return "active"
    return None


def plan(specs: list[TenantSpec], *, orphans: bool = True, console_changes: str = "refuse") -> list[Change]:
    """Compare tenant files with the database, writing nothing; `orphans` lists the tenants without a file.

    A contract end changed in the console or API since the file was applied is drift: listed, and
    with `console_changes="refuse"` (the default) left out of the changes; "accept" keeps the
    console's value (and remembers it over this file value); "override" lets the file revert it.
    """
    named = sorted({spec.slug for spec in specs})
    # Only the tenants the files name are loaded whole (applying one new file reads one row); the
    # others are listed by slug and status, as orphans.
    existing = {tenant.slug: tenant for start in range(0, len(named), SLUGS_PER_QUERY)
                for tenant in db.session.scalars(sa.select(Tenant).where(
                    Tenant.slug.in_(named[start:start + SLUGS_PER_QUERY])))}
    named = set(named)
    changes: list[Change] = []
    admins: dict[Tenant, tuple[Change, tuple]] = {}  # tenants whose files' admins apply would provision
    contacts: dict[Tenant, tuple[Change, tuple]] = {}  # and the privacy contacts their files name
    for spec in specs:
        tenant = existing.pop(spec.slug, None)
        if tenant is None:
            note = "(contract already ended)" if _status_after(spec, None) else ""
            changes.append(Change(spec.slug, "create", note=note))
            continue
        if tenant.status in ("purging", "purged"):
            changes.append(Change(spec.slug, "locked", note=f"(tenant is {tenant.status}; file ignored)"))
            continue
        found = drift(tenant, spec)
        kept = kept_fields(tenant, spec)
        if console_changes != "override":
            kept |= {d.field for d in found}
        wanted = {key: value for key, value in spec.tenant_fields().items() if key not in kept}
        diff = {key: (getattr(tenant, key), value) for key, value in wanted.items() if getattr(tenant, key) != value}
        # The status follows the contract end: not the file's to move while the console's end stays.
        move = _status_after(spec, tenant.status) if "contract_end" not in kept else None
        if move:
            diff["status"] = (tenant.status, move)
        action = "update" if diff or (found and console_changes == "accept") else "unchanged"
        change = Change(spec.slug, action, diff, drift=found, kept=kept)
        changes.append(change)
        contacts[tenant] = (change, spec.privacy_contacts)
        if spec.admins and (tenant.accepts_writes or move == "active") and move != "ended":
            admins[tenant] = (change, spec.admins)
    # One look-up for every file's admins and privacy contacts: a plan over thousands of files asks
    # for all of them.
    missing = users.admins_to_provision({tenant: wanted for tenant, (_change, wanted) in admins.items()})
    for tenant, (change, wanted) in admins.items():
        if missing[tenant.id]:
            change.changes["admins"] = (len(wanted) - len(missing[tenant.id]), len(wanted))
            change.action = "update"
    contact_changes = privacy_contacts.file_changes_many({tenant: emails for tenant, (_c, emails) in contacts.items()})
    for tenant, (change, emails) in contacts.items():
        added, removed = contact_changes[tenant.id]
        if added or removed:
            # Counts only: the addresses are personal data and plan output lands in terminals and CI logs.
            change.changes["privacy_contacts"] = (len(emails) - len(added) + len(removed),
                                                  f"{len(emails)} (+{len(added)} -{len(removed)})")
            change.action = "update"
    if orphans:
        for slug, status in db.session.execute(sa.select(Tenant.slug, Tenant.status).order_by(Tenant.slug)):
            if slug not in named:
                changes.append(Change(slug, "orphaned", note=f"(no file; {status}; never deleted by apply)"))
    return changes


def apply(specs: list[TenantSpec], console_changes: str = "refuse") -> list[Change]:
    """Bring the database in line with the files; the caller commits once.

    Drift (a contract end changed in the console or API that a file would revert) is refused,
    naming tenant and field, unless `console_changes` is "accept" (the console's value stays)
    or "override" (the file's value wins).
    """
    # apply leaves tenants without a file alone: no need to list them
    changes = plan(specs, orphans=False, console_changes=console_changes)
    found = [d for change in changes for d in change.drift]
    if found and console_changes == "refuse":
        raise ConsoleDrift(found)
    by_slug = {spec.slug: spec for spec in specs}
    for change in changes:
        spec = by_slug.get(change.slug)
        if change.action == "create":
            tenant = Tenant(slug=spec.slug, status="active", **spec.tenant_fields())
            db.session.add(tenant)
            db.session.flush()
            create_tenant_keys(tenant)
            if _status_after(spec, None) == "ended":
                tenant.end_contract(spec.contract_end)
            record_applied(tenant, spec)
            audit.record("tenant.create", tenant_id=tenant.id, targets=[tenant.id],
                         detail={"status": tenant.status, "end_action": tenant.end_action})
            if tenant.accepts_writes:
                users.ensure_admins(tenant, spec.admins)
            privacy_contacts.sync_file(tenant, spec.privacy_contacts)
            log.info("tenant %s created from %s", tenant.slug, spec.path.name)
        elif change.action == "update":
            tenant = get_by_slug(change.slug)
            for key, (_old, new) in change.changes.items():
                if key not in ("status", "admins", "privacy_contacts"):
                    setattr(tenant, key, new)
            move = change.changes.get("status")
            if move and move[1] == "ended":
                tenant.end_contract(spec.contract_end)
            elif move and move[1] == "active":
                tenant.reinstate(spec.contract_end)
            record_applied(tenant, spec, keep=change.kept)
            audit.record("tenant.update", tenant_id=tenant.id, targets=[tenant.id],
                         detail={"fields": sorted(change.changes), "console_changes_kept": sorted(change.kept)})
            if "admins" in change.changes:
                # Each admin named in the file exists as an admin; new ones get a set-password link.
                users.ensure_admins(tenant, spec.admins)
            if "privacy_contacts" in change.changes:
                privacy_contacts.sync_file(tenant, spec.privacy_contacts)
            log.info("tenant %s updated: %s", tenant.slug, ", ".join(change.changes))
    db.session.flush()
    return changes
