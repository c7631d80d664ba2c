"""Records generated from the data map: Art. 30 records of processing and each tenant's inventory.

A neutral package: it reads both scopes (the processor's tenants, the controller's retention
configuration) so neither scope has to know the other.
"""
