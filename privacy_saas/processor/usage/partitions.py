"""One PostgreSQL partition of `usage_events` per tenant, so that erasing a tenant's usage is a DROP.

Usage events are the bulk of what a tenant leaves behind (about 99 rows in 100). Migration 0011
makes `usage_events` a table partitioned by LIST (tenant_id) on PostgreSQL:

- a trigger on `tenants` creates the tenant's partition in the transaction that inserts the
  tenant (`usage_events_add_partition`), so no path can create a tenant without one;
- the purge calls `usage_events_drop_partition(tenant)`, which counts the partition's rows under a
  lock that stops writers, drops it and returns the count. Dropping unlinks the files at commit:
  no million-row DELETE, no dead tuples or index entries left for VACUUM to find.

Both functions are SECURITY DEFINER, owned by the migrating role, because the application runs
as an ordinary role that cannot own or drop tables. The drop function refuses unless the tenant
is `purging` and none of its data keys is alive, so the database itself keeps the order
"shred the keys, then delete". The application reaches the rows through the parent table only,
where row-level security applies; each partition carries the same policy besides.

SQLite has no partitions: the purge deletes its usage events in batches like any other table.
"""
from __future__ import annotations

import re
import uuid

import sqlalchemy as sa

TABLE = "usage_events"
PREFIX = f"{TABLE}_t_"
_NAME = re.compile(rf"^{PREFIX}[0-9a-f]{{32}}$")

#: lock_timeout of the DROP: it needs ACCESS EXCLUSIVE on the parent table for a moment, and every
#: usage query of every tenant queues behind a waiting DROP. Waiting briefly and trying again keeps
#: that queue short when a long transaction holds the table. Below deadlock_timeout (1 s by
#: default), so that in a lock cycle with another transaction the drop is the one that gives way.
LOCK_TIMEOUT_MS = 200
#: SQLSTATEs after which the drop is worth another try: lock_not_available, deadlock_detected.
RETRYABLE = frozenset({"55P03", "40P01"})
INSUFFICIENT_PRIVILEGE = "42501"


def partition_name(tenant_id: uuid.UUID | str) -> str:
    """Return the name of a tenant's partition (the SQL function usage_events_partition_name agrees)."""
    return PREFIX + uuid.UUID(str(tenant_id)).hex


def is_partition(name: str) -> bool:
    """Tell whether a table name is a tenant partition (not in the models; Alembic must ignore it)."""
    return bool(_NAME.match(name))


def include_name(name, type_, parent_names) -> bool:
    """Alembic `include_name` hook: leave tenant partitions out of schema comparisons."""
    return not (type_ == "table" and name is not None and is_partition(name))


def supported(connection) -> bool:
    return connection.dialect.name == "postgresql"


def drop_tenant_partition(session, tenant_id) -> int | None:
    """Drop the tenant's usage partition in the current transaction; return its rows, None if it has none.

    Sets lock_timeout for the rest of the transaction, which the caller commits next.

    Raises a DBAPIError that `retryable` accepts when the parent table stays locked for
    LOCK_TIMEOUT_MS or a deadlock is broken; the transaction is then aborted, and the caller rolls
    back and tries again.
    """
    if not supported(session.connection()):
        return None
    session.execute(sa.text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{LOCK_TIMEOUT_MS}ms"})
    return session.scalar(sa.text("SELECT usage_events_drop_partition(:tenant)"), {"tenant": uuid.UUID(str(tenant_id))})


def plan_for_the_parameters(session) -> None:
    """Plan the rest of this transaction's statements for their actual parameters (PostgreSQL).

    A cached generic plan on usage_events locks every tenant's partition each time it runs, before it
    prunes them. The ON DELETE CASCADE from registered_users runs such a plan per deleted user: with
    1,000 tenants that made deleting a user 4x slower (bench/partitions.py). A custom plan prunes to
    the one partition while planning. For the transactions that delete registered users.
    """
    if supported(session.connection()):
        session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def sqlstate(error: Exception) -> str | None:
    return getattr(getattr(error, "orig", None), "sqlstate", None)


def retryable(error: Exception) -> bool:
    """Tell whether a failed drop is worth another try (it met a lock, not a refusal)."""
    return sqlstate(error) in RETRYABLE
