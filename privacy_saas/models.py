"""Import every model so the metadata (and Alembic) sees the whole schema."""
from privacy_saas.audit.models import AuditCheckpoint, AuditEntry, AuditHead  # noqa: F401
from privacy_saas.auth.models import ApiToken, Staff  # noqa: F401
from privacy_saas.controller.contacts.models import ConsentEvent, Contact  # noqa: F401
from privacy_saas.controller.records.models import BillingRecord, WebsiteActivity  # noqa: F401
from privacy_saas.controller.retention.models import RetentionSweep  # noqa: F401
from privacy_saas.controller.suppression.models import Suppression, SuppressionKeyCheck  # noqa: F401
from privacy_saas.crypto.models import DataKey, KeyRotation  # noqa: F401
from privacy_saas.jobs.models import Job, WorkerHeartbeat  # noqa: F401
from privacy_saas.lifecycle.models import (  # noqa: F401
    DeletionCertificate,
    LegalHold,
    MonthlyAggregate,
    PurgeRun,
    TenantExport,
)
from privacy_saas.notices.models import (  # noqa: F401
    Breach,
    BreachUpdate,
    CertificateDelivery,
    Notice,
    NoticeTask,
    SubprocessorChange,
)
from privacy_saas.processor.privacy_contacts.models import PrivacyContact  # noqa: F401
from privacy_saas.processor.tenants.models import Tenant  # noqa: F401
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent  # noqa: F401
from privacy_saas.processor.users.models import (  # noqa: F401
    RegisteredUser,
    UserGroup,
    UserGroupMember,
    UserInvitation,
)
from privacy_saas.rights.models import DataSubjectRequest, DsrTask  # noqa: F401
from privacy_saas.subprocessors.models import Subprocessor  # noqa: F401
