"""A small mail interface: SMTP when MAIL_SMTP_HOST is set, else `.eml` files in OUTBOX_DIR.

Addresses and bodies go to the SMTP server or the outbox file only, never to the log. Mail about a
tenant's users goes to `OUTBOX_DIR/<tenant id>/`, which that tenant's purge removes; the vendor's
own mail to the outbox folder itself.
"""
from __future__ import annotations

import logging
import os
import secrets
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app

from privacy_saas import clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One plain-text e-mail."""

    to: str
    subject: str
    body: str
    #: The tenant whose user it is about (its outbox folder), or None for the vendor's own mail.
    tenant_id: uuid.UUID | None = None


def _build(message: Message) -> EmailMessage:
    config = current_app.config
    mail = EmailMessage()
    mail["From"] = config.get("MAIL_FROM", "privacy_saas <no-reply@privacy-saas.invalid>")
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000")
    # make_msgid draws on the `random` module, which tests (hypothesis) may seed: add OS entropy.
    mail["Message-ID"] = make_msgid(idstring=secrets.token_hex(8), domain="privacy-saas.invalid")
    # 7bit (8bit for non-ASCII text): quoted-printable would fold long lines with soft breaks, and a
    # link broken across lines cannot be used from the .eml file as written. Lines stay under SMTP's 998.
    mail.set_content(message.body, cte="7bit" if message.body.isascii() else "8bit")
    return mail


def send(message: Message) -> str:
    """Send `message`; return its Message-ID (and, with the outbox, the file holds it)."""
    config = current_app.config
    mail = _build(message)
    host = config.get("MAIL_SMTP_HOST")
    if host:
        with smtplib.SMTP(host, int(config.get("MAIL_SMTP_PORT", 587)), timeout=30) as smtp:
            if config.get("MAIL_SMTP_STARTTLS", True):
                smtp.starttls()
            if config.get("MAIL_SMTP_USER"):
                smtp.login(config["MAIL_SMTP_USER"], config.get("MAIL_SMTP_PASSWORD", ""))
            smtp.send_message(mail)
        log.info("mail %s sent by SMTP", mail["Message-ID"])
        return mail["Message-ID"]
    outbox = outbox_dir(message.tenant_id)
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{clock.now():%Y%m%dT%H%M%S}-{mail['Message-ID'].strip('<>').split('@')[0]}.eml"
    # The file holds personal data: readable by the service account only.
    fd = os.open(outbox / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(mail.as_bytes())
    log.info("mail %s written to the outbox as %s", mail["Message-ID"], name)
    return mail["Message-ID"]


def outbox_dir(tenant_id: uuid.UUID | None = None) -> Path:
    """Return the outbox folder of a tenant's mail (or of the vendor's, for None)."""
    root = Path(current_app.config["OUTBOX_DIR"])
    return root / str(uuid.UUID(str(tenant_id))) if tenant_id is not None else root
