"""SCIM 2.0 (RFC 7643/7644) provisioning of a tenant's users and groups."""
