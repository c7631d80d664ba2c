"""`usage_events` in a fixed set of hash partitions by tenant on PostgreSQL.

Usage events are the bulk of what tenants leave behind (about 99 rows in 100). Migration 0016b
spreads them over MODULUS partitions by a hash of tenant_id: each partition is a bounded share of
the table, vacuumed and indexed on its own, and a tenant's rows all sit in one of them. Tenants
come and go without DDL; the purge deletes a tenant's rows in batches within its partition.

Migration 0011 had given every tenant a partition of its own, so that a purge could drop it.
bench/scale.py measured what that cost from 100 to 10,000 tenants (SCALING.md): creating a
tenant 18x slower, a new connection's first usage write 6x slower, ~115 kB of disk per tenant
however small, and a lock on the whole table at every purge; hence 0016b.

The partitions are not in the models (Alembic must ignore them); the application reaches the rows
through the parent table only, where row-level security applies, and each partition carries the
same policy besides. SQLite has no partitions.

PostgreSQL's plan cache stays in its default mode: a generic plan locks all 32 partitions and
their indexes before it prunes, which costs less than planning each statement again (deleting a
user, whose events go by cascade: 0.67 ms against 1.0 ms forcing custom plans). With a partition
per tenant it had been the other way round, and the application had forced custom plans.
"""
from __future__ import annotations

import re

TABLE = "usage_events"
#: Number of hash partitions (migration 0016b); a power of two, so that each can be split in two.
MODULUS = 32
_NAME = re.compile(rf"^{TABLE}_p[0-9]{{2,}}$")


def partition_name(remainder: int) -> str:
    """Return the name of the partition holding the tenants whose hash leaves `remainder`."""
    return f"{TABLE}_p{remainder:02d}"


def is_partition(name: str) -> bool:
    """Tell whether a table name is one of the usage partitions (not in the models; Alembic must ignore it)."""
    return bool(_NAME.match(name))


def include_name(name, type_, parent_names) -> bool:
    """Alembic `include_name` hook: leave the usage partitions out of schema comparisons."""
    return not (type_ == "table" and name is not None and is_partition(name))
