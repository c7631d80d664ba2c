"""Data-subject rights: intake, lookup in every scope, routing, deadlines, execution.

Neither processor nor controller: this package uses both, and decides per scope who
decides (vendor staff for the vendor's own contacts, the tenant for tenant data).
"""
