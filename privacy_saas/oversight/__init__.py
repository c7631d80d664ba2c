"""The audit log as staff and tenants read and verify it: `/api/v1/audit` and `privacy-saas audit`.

Both name tenants by slug, so they sit above the processor scope; the chain itself
(`privacy_saas.audit`) stays below everything that records into it.
"""
