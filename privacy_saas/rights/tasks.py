"""Jobs of the rights package."""
import logging
import uuid

from privacy_saas.extensions import db
from privacy_saas.rights import exports
from privacy_saas.rights.models import DsrTask

log = logging.getLogger(__name__)


def build_export(task_id: str) -> None:
    """Build the sealed access/portability export of an approved task."""
    task = db.session.get(DsrTask, uuid.UUID(task_id))
    # The job row commits with the approval, so the task is there; it no longer waits for an
    # export only if an earlier run built it (and this is a duplicate delivery).
    if task is None or task.export_status != "building":
        log.info("DSR task %s: no export waiting to be built", task_id)
        return
    exports.build(task)
    db.session.commit()
