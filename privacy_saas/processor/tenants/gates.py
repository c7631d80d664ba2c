"""What a tenant's lifecycle status allows: reads until the purge, writes while active."""
from privacy_saas.errors import Forbidden
from privacy_saas.processor.tenants.models import Tenant

#: Statuses in which the tenant's data is held (readable): not yet being purged.
HOLDING = ("active", "ended")


def ensure_readable(tenant: Tenant) -> None:
    """Refuse every access to a tenant being purged or purged."""
    if tenant.status not in HOLDING:
        raise Forbidden(f"the tenant is {tenant.status}; its data is being or has been erased",
                        code="tenant_purged")


def ensure_writable(tenant: Tenant) -> None:
    """Refuse writes once the tenant's contract has ended (403 `tenant_ended`)."""
    ensure_readable(tenant)
    if not tenant.accepts_writes:
        raise Forbidden(f"tenant is {tenant.status}: its data can be read and exported, not changed",
                        code="tenant_ended")
