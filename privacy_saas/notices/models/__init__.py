"""Sub-processor changes, breaches, the notices they send each tenant, and the tasks objections raise.

None of these hold personal data in clear: the one text a tenant writes (an objection's reason) is
sealed under that tenant's key. Notices, their tasks and certificate deliveries survive the purge
as the vendor's proof of what it told whom and when; the purge's crypto-shred makes the reasons
unreadable.

By concern: changes.py (the register's announced changes), breaches.py (breaches and their phased
updates), notices.py (what each tenant is sent, the tasks its answers raise, certificate deliveries).
"""
from privacy_saas.notices.models.breaches import (
    AUTHORITY_DEADLINE,
    AUTHORITY_DECISIONS,
    BREACH_SCOPES,
    SUBJECT_DECISIONS,
    Breach,
    BreachUpdate,
)
from privacy_saas.notices.models.changes import CHANGE_ACTIONS, CHANGE_STATUSES, SubprocessorChange
from privacy_saas.notices.models.notices import (
    ANSWERS,
    CHANNELS,
    NOTICE_KINDS,
    TASK_STATUSES,
    CertificateDelivery,
    Notice,
    NoticeTask,
    delivery_scope,
)

__all__ = [
    "ANSWERS", "AUTHORITY_DEADLINE", "AUTHORITY_DECISIONS", "BREACH_SCOPES", "CHANGE_ACTIONS", "CHANGE_STATUSES",
    "CHANNELS", "NOTICE_KINDS", "SUBJECT_DECISIONS", "TASK_STATUSES", "Breach", "BreachUpdate",
    "CertificateDelivery", "Notice", "NoticeTask", "SubprocessorChange", "delivery_scope",
]
