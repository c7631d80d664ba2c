"""Queue the mail of a notice: one job per notice, after the transaction that recorded it commits.

Mail is a side effect the database cannot roll back, so it leaves only once the notice is
committed; a job per notice keeps one tenant's bad address from holding up the others.
"""
from __future__ import annotations

from privacy_saas.jobs.models import Job
from privacy_saas.jobs.queue import enqueue
from privacy_saas.notices.models import Notice

def enqueue_notice(notice: Notice, purpose: str = "notice") -> Job:
    """Queue the delivery of `notice` to its tenant's admins and privacy contacts.

    `purpose` is `notice` (the notice itself) or `withdrawal` (its sub-processor change was withdrawn).
    """
    return enqueue("privacy_saas.notices.tasks.deliver_notice", str(notice.tenant_id), str(notice.id), purpose,
                   tenant_id=notice.tenant_id)
