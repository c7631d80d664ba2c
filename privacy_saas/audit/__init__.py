"""Append-only, hash-chained audit log (no personal data: ids, actions, counts)."""
from privacy_saas.audit.service import record  # noqa: F401
