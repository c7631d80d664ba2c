"""Suppression list: keyed hashes of e-mails that must never be contacted or imported again."""
