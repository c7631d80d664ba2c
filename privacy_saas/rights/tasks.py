"""Jobs of the rights package."""
import uuid

from privacy_saas.extensions import db
from privacy_saas.rights import exports
from privacy_saas.rights.models import DsrTask


def build_export(task_id: str) -> None:
    """Build the sealed access/portability export of an approved task."""
    task = db.session.get(DsrTask, uuid.UUID(task_id))
    if task is None or task.export_status != "building":
        # Not committed yet (the job may start before the approving request commits): retry.
        raise LookupError(f"task {task_id} is not waiting for an export")
    exports.build(task)
    db.session.commit()
