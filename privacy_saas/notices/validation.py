"""Checks on what staff write into notices: they reach every affected client, so no personal data."""
from __future__ import annotations

import re

from privacy_saas.datamap import not_personal
from privacy_saas.errors import AppError

#: The data-map annotation of the columns holding what staff write into changes and breaches: not
#: personal, because the text is checked here for e-mail addresses before it is stored.
STAFF_TEXT = not_personal()

#: Anything shaped like an e-mail address: the personal data most often pasted into incident notes.
_EMAIL = re.compile(r"[^\s@<>()\[\]]+@[^\s@<>()\[\]]+\.[A-Za-z]{2,}")


def check_no_addresses(values: dict) -> None:
    """Refuse text fields (or lists of text) holding an e-mail address: notices carry no personal data."""
    bad = {}
    for name, value in values.items():
        texts = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(t, str) and _EMAIL.search(t) for t in texts):
            bad[name] = ("must not contain an e-mail address: notices carry no personal data of data subjects; "
                         "describe people by category and number")
    if bad:
        raise AppError("notices carry no personal data", code="personal_data_in_notice",
                       errors={k: [v] for k, v in bad.items()})
