"""Usage retention while the contract runs."""
import logging

import uuid

from privacy_saas import audit, rls
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.usage.service import delete_expired_usage

log = logging.getLogger(__name__)


def enforce_usage_retention(tenant_id: str) -> int:
    """Delete a tenant's expired usage events batch by batch, each batch its own transaction."""
    rls.scope_to_tenant(uuid.UUID(str(tenant_id)))
    tenant = db.session.get(Tenant, uuid.UUID(str(tenant_id)))
    if tenant is None or tenant.status != "active":
        return 0
    total = 0
    while deleted := delete_expired_usage(tenant):
        total += deleted
        db.session.commit()
    if total:
        audit.record("usage.retention", tenant_id=tenant.id, detail={"deleted": total}, actor=("system", None))
        db.session.commit()
        log.info("usage retention: %d events of tenant %s deleted", total, tenant.id)
    return total
