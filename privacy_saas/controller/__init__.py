"""Controller scope: the vendor's own contacts, consents, suppression list, records and retention.

Nothing here may import `privacy_saas.processor` (import-linter contract): tenant data
is never a source of marketing contacts.
"""
