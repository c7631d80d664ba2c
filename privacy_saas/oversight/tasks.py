"""Oversight jobs (ids only): the scheduler's signing of the audit chains' heads."""
from __future__ import annotations

import logging

from privacy_saas.audit import checkpoints
from privacy_saas.extensions import db
from privacy_saas.lifecycle import certificates

log = logging.getLogger(__name__)

#: Chains signed per transaction.
BATCH = 500
#: Batches per run at most (5,000,000 chains); each batch signs chains the previous ones left due.
MAX_BATCHES = 10_000


def checkpoint_chains() -> int:
    """Job: sign every chain whose head moved and whose latest checkpoint is a day old; return how many."""
    signed = 0
    for _ in range(MAX_BATCHES):
        made = checkpoints.make_due(certificates.sign, limit=BATCH)
        db.session.commit()
        signed += made
        if made < BATCH:
            break
    if signed:
        log.info("audit: %d chain head(s) signed", signed)
    return signed
