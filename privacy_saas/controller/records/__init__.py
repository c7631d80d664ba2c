"""The vendor's website-activity and billing records (controller scope)."""
