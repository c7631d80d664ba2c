"""Import every model so the metadata (and Alembic) sees the whole schema."""
from privacy_saas.audit.models import AuditEntry, AuditHead  # noqa: F401
from privacy_saas.auth.models import ApiToken, Staff  # noqa: F401
from privacy_saas.crypto.models import DataKey, KeyRotation  # noqa: F401
from privacy_saas.lifecycle.models import (  # noqa: F401
    DeletionCertificate,
    LegalHold,
    MonthlyAggregate,
    PurgeRun,
    TenantExport,
)
from privacy_saas.processor.tenants.models import Tenant  # noqa: F401
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent  # noqa: F401
from privacy_saas.processor.users.models import (  # noqa: F401
    RegisteredUser,
    UserGroup,
    UserGroupMember,
    UserInvitation,
)
