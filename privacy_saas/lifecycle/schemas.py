"""Lifecycle API schemas."""
from marshmallow import Schema, fields, validate


class EndContractSchema(Schema):
    on = fields.Date(load_default=None, metadata={
        "description": "Last contract day (default: today). Today or earlier: users are locked out now; a later "
                       "day: the end is scheduled and the tenant stays active through it."})


class ReinstateSchema(Schema):
    until = fields.Date(load_default=None, metadata={
        "description": "The renewed contract's last day (default: open-ended); today or later."})


class LegalHoldInSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
    until = fields.Date(load_default=None)


class LegalHoldSchema(Schema):
    id = fields.UUID()
    reason = fields.String()
    set_by = fields.UUID()
    set_at = fields.DateTime()
    until = fields.Date(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    released_by = fields.UUID(allow_none=True)
    active = fields.Boolean()


class SignedCertificateSchema(Schema):
    certificate = fields.Dict()
    signature = fields.String()
    algorithm = fields.String()
    key_id = fields.String()


class ExportSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    created_at = fields.DateTime()
    ready_at = fields.DateTime(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    downloads = fields.Integer()


class PurgeRunSchema(Schema):
    step = fields.String(metadata={"description": "Last step completed (started, keys_destroyed, aggregated, "
                                                  "rows_deleted, files_deleted, certified)."})
    attempts = fields.Integer(metadata={"description": "Runs that worked on this purge."})
    started_at = fields.DateTime()
    keys_destroyed_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    locked_by = fields.String(allow_none=True, metadata={"description": "Worker holding the lease (host:pid)."})
    lease_until = fields.DateTime(allow_none=True)
    rows_deleted_total = fields.Function(lambda run: sum(run.rows_deleted.values()))
    rows_total = fields.Integer(allow_none=True, metadata={
        "description": "The tenant's rows when the deletes began (None before): progress is rows_deleted_total of it."})
    batches = fields.Integer(metadata={"description": "Batches committed (a dropped usage partition counts as one)."})


class PurgeJobSchema(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"description": "pending, dispatched, running, done or dead."})
    attempts = fields.Integer()
    max_attempts = fields.Integer(allow_none=True, metadata={"description": "None: retried until it succeeds."})
    created_at = fields.DateTime()
    next_try_at = fields.Function(lambda job: job.not_before.isoformat() if job.status == "pending" else None,
                                  allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)


class PurgeStatusSchema(Schema):
    tenant = fields.Function(lambda status: status.tenant.slug)
    status = fields.Function(lambda status: status.tenant.status)
    purge_due_on = fields.Function(lambda status: status.tenant.purge_due_on.isoformat()
                                   if status.tenant.purge_due_on else None, allow_none=True)
    stuck = fields.Boolean(metadata={"description": "Purging for longer than PURGE_STUCK_SECONDS with no worker "
                                                    "holding its lease."})
    phase = fields.String(metadata={"description": "In a word: scheduled, not_ended, waiting (retention runs), held, "
                                                   "due, queued, retrying, running, stuck or done."})
    reason = fields.Function(lambda status: status.decision.reason,
                             metadata={"description": "Why it may or may not run now."})
    eta = fields.DateTime(allow_none=True, metadata={"description": "When the deletes should be done at their pace "
                                                                    "so far (running only)."})
    run = fields.Nested(PurgeRunSchema, allow_none=True)
    job = fields.Nested(PurgeJobSchema, allow_none=True)
