"""The vendor's sales and marketing contacts and their consent log."""
