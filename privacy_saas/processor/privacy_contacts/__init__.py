"""The client's privacy/DPO contacts: who receives the vendor's notices besides the tenant's admins."""
