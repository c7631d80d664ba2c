"""Append-only, hash-chained audit log (no personal data: ids, actions, counts)."""
from privacy_saas.audit.service import record, scope_of  # noqa: F401
