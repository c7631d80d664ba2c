"""Signed checkpoints: each chain's head anchored outside the database.

Whoever can write to the database can rewrite an entry and recompute every later hash and the
head: the chain still verifies. A checkpoint is the head (seq, hash) signed with the installation's
Ed25519 key; a copy kept elsewhere (the tenant fetches its own) shows the rewrite, because the hash
at that seq changes. The scheduler signs every chain whose head moved at least daily, the purge signs
the purged tenant's chain, and anyone entitled can ask for one now.

The installation's key is above this package (it imports no crypto): whoever makes a checkpoint
passes the signer (lifecycle.certificates.sign), and signatures are checked where the key is known.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import CHAIN_NAME, CHECKPOINT_TYPE, AuditCheckpoint, AuditHead
from privacy_saas.audit.service import ChainReport, verify_chain
from privacy_saas.errors import NotFound
from privacy_saas.extensions import db

#: A chain whose head moved is signed again once its latest checkpoint is this old.
INTERVAL = timedelta(days=1)
_CHAIN = re.compile(CHAIN_NAME)
#: Signs a document with the installation's key: returns it with key_id, algorithm and signature.
Signer = Callable[[dict], dict]


class InvalidCheckpoint(ValueError):
    """A checkpoint file is malformed, or its signature does not verify."""


def latest(chain: str) -> AuditCheckpoint:
    """Return the chain's latest checkpoint, or raise NotFound."""
    checkpoint = db.session.scalar(sa.select(AuditCheckpoint).where(AuditCheckpoint.chain == chain)
                                   .order_by(AuditCheckpoint.seq.desc()).limit(1))
    if checkpoint is None:
        raise NotFound("this chain has no signed checkpoint yet", code="no_checkpoint")
    return checkpoint


def current(chain: str, sign: Signer) -> AuditCheckpoint:
    """Return the chain's latest checkpoint; a chain never signed has its head signed now (on demand),
    so a tenant can hold evidence from its first day rather than after the first daily signing."""
    try:
        return latest(chain)
    except NotFound:
        return make(chain, sign)[0]


def list_for(chain: str, *, page_number: int = 1, page_size: int = 50) -> tuple[list[AuditCheckpoint], int]:
    """Return one page of the chain's checkpoints, newest first, and their number."""
    where = AuditCheckpoint.chain == chain
    items = db.session.scalars(sa.select(AuditCheckpoint).where(where).order_by(AuditCheckpoint.seq.desc())
                               .offset((page_number - 1) * page_size).limit(page_size)).all()
    return list(items), db.session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint).where(where))


def _sign(chain: str, seq: int, hash_: bytes, sign: Signer) -> AuditCheckpoint:
    # To the second: the signed text must survive any database's timestamp precision unchanged.
    checkpoint = AuditCheckpoint(chain=chain, seq=seq, hash=hash_, signed_at=clock.now().replace(microsecond=0))
    signed = sign(checkpoint.document())
    checkpoint.key_id, checkpoint.algorithm, checkpoint.signature = (
        signed["key_id"], signed["algorithm"], signed["signature"])
    return checkpoint


def make(chain: str, sign: Signer) -> tuple[AuditCheckpoint, bool]:
    """Sign the chain's head now; return the checkpoint and whether it is new (a head signed before is not)."""
    head = db.session.get(AuditHead, chain, populate_existing=True)
    if head is None or head.seq == 0:
        raise NotFound("no such audit chain", code="no_chain")
    existing = db.session.scalar(sa.select(AuditCheckpoint).where(AuditCheckpoint.chain == chain,
                                                                  AuditCheckpoint.seq == head.seq))
    if existing is not None:
        return existing, False
    checkpoint = _sign(chain, head.seq, head.hash, sign)
    try:
        with db.session.begin_nested():
            db.session.add(checkpoint)
            db.session.flush()
    except sa.exc.IntegrityError:  # signed at the same moment by another caller
        return db.session.scalar(sa.select(AuditCheckpoint).where(AuditCheckpoint.chain == chain,
                                                                  AuditCheckpoint.seq == head.seq)), False
    return checkpoint, True


def _due(limit: int, now: datetime | None = None) -> list:
    """Return up to `limit` heads (scope, seq, hash) that moved since their chain's latest checkpoint,
    signed over INTERVAL ago (or never)."""
    cutoff = (now or clock.now()) - INTERVAL
    covered = sa.select(AuditCheckpoint.id).where(
        AuditCheckpoint.chain == AuditHead.scope,
        sa.or_(AuditCheckpoint.seq >= AuditHead.seq, AuditCheckpoint.signed_at > cutoff))
    return db.session.execute(sa.select(AuditHead.scope, AuditHead.seq, AuditHead.hash)
                              .where(AuditHead.seq > 0, ~covered.exists())
                              .order_by(AuditHead.scope).limit(limit)).all()


def any_due() -> bool:
    """Return whether some chain's head is due for signing (the scheduler then owes the job)."""
    return bool(_due(1))


def make_due(sign: Signer, limit: int = 500, now: datetime | None = None) -> int:
    """Sign up to `limit` chains whose head moved since their latest checkpoint, signed over INTERVAL ago."""
    heads = _due(limit, now)
    db.session.add_all(_sign(head.scope, head.seq, head.hash, sign) for head in heads)
    db.session.flush()
    return len(heads)


def parse(document) -> AuditCheckpoint:
    """Return a checkpoint as kept outside (the API's JSON), checked for shape; raise InvalidCheckpoint."""
    if not isinstance(document, dict):
        raise InvalidCheckpoint("a checkpoint is a JSON object")
    fields = {"type": str, "chain": str, "seq": int, "hash": str, "signed_at": str, "key_id": str,
              "algorithm": str, "signature": str}
    wrong = sorted(name for name, kind in fields.items()
                   if not isinstance(document.get(name), kind) or isinstance(document.get(name), bool))
    if wrong:
        raise InvalidCheckpoint(f"missing or mistyped: {', '.join(wrong)}")
    if document["type"] != CHECKPOINT_TYPE or not _CHAIN.fullmatch(document["chain"]) or document["seq"] < 1:
        raise InvalidCheckpoint("not a privacy_saas audit checkpoint")
    try:
        hash_ = bytes.fromhex(document["hash"])
        signed_at = datetime.fromisoformat(document["signed_at"])
        base64.b64decode(document["signature"], validate=True)
    except (ValueError, binascii.Error):
        raise InvalidCheckpoint("hash, signed_at or signature is malformed") from None
    checkpoint = AuditCheckpoint(chain=document["chain"], seq=document["seq"], hash=hash_, signed_at=signed_at,
                                 key_id=document["key_id"], algorithm=document["algorithm"],
                                 signature=document["signature"])
    if len(hash_) != 32 or checkpoint.document() != {name: document[name] for name in checkpoint.document()}:
        raise InvalidCheckpoint("hash or signed_at is not in its canonical form")
    return checkpoint


def verify_extends(checkpoint: AuditCheckpoint) -> ChainReport:
    """Walk the checkpoint's chain: intact, ending at its head, and still holding the signed hash at its seq."""
    return verify_chain(checkpoint.chain, anchor=(checkpoint.seq, checkpoint.hash))
