"""The vendor's sub-processor register (Art. 30): vendor data, read by staff and tenant admins.

A neutral package, so the tenant console (processor side) can show it without importing
the controller scope.
"""
