"""Key custody as operators run it: `privacy-saas keys ...`.

The commands name tenants by slug, so they sit above the processor scope (as oversight/ does for
the audit log); the keys themselves (`privacy_saas.crypto`) stay below every scope that encrypts.
"""
