"""CSV files the product writes: no cell runs as a formula when a spreadsheet opens the file.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)` exfiltrates the sheet, DDE runs commands), so
such text gets a leading apostrophe, the OWASP rule. Numbers stay numbers. The JSON beside each CSV
keeps every value exactly as stored.
"""
from __future__ import annotations

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Return `value`, with an apostrophe in front if it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """csv.writer whose cells are neutralised."""

    def __init__(self, fh, **kwargs):
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, values):
        return self._writer.writerow([neutralise(value) for value in values])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    """csv.DictWriter whose cells are neutralised."""

    def writerow(self, rowdict):
        return super().writerow({key: neutralise(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)
