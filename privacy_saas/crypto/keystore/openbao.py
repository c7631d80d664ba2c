"""OpenBao (or HashiCorp Vault) transit: one non-exportable key per scope, through hvac.

Each key is derived per context, so a wrapped key is bound to its scope, purpose and version as
the local store binds it with AAD. The key never leaves the server; wrap, unwrap and rewrap are
transit calls. Destroyed keys are recorded in a KV register, since transit forgets a deleted key
entirely.
"""
from __future__ import annotations

import base64
import email.utils
import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timezone

import hvac
import hvac.exceptions
import requests

from privacy_saas import clock
from privacy_saas.crypto.errors import DecryptionError, KeyDestroyed, KeyStoreUnavailable, KeyUnavailable
from privacy_saas.crypto.keystore.base import Inventory, KeyState, KeyStore, Receipt

log = logging.getLogger(__name__)

#: Errors that mean "the store did not answer usefully now": the request may succeed later.
_UNAVAILABLE = (requests.exceptions.RequestException, hvac.exceptions.VaultDown,
                hvac.exceptions.InternalServerError, hvac.exceptions.BadGateway,
                hvac.exceptions.RateLimitExceeded, hvac.exceptions.UnexpectedError)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class OpenBaoKeyStore(KeyStore):
    """One non-exportable transit key per scope in OpenBao (or HashiCorp Vault), through hvac."""

    backend = "openbao"

    def __init__(self, addr: str, token: str, transit_mount: str = "transit", kv_mount: str = "privacy-saas",
                 prefix: str = "privacy-saas", timeout: tuple[float, float] = (1.5, 5.0)):
        super().__init__(prefix)
        self.addr = addr.rstrip("/")
        self._token = token
        self.transit_mount = transit_mount
        self.kv_mount = kv_mount
        self.timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:
        # Never the token.
        return f"OpenBaoKeyStore({self.addr!r}, transit={self.transit_mount!r})"

    def describe(self) -> str:
        return f"OpenBao at {self.addr} (mount {self.transit_mount})"

    def _client(self) -> hvac.Client:
        # requests sessions are neither fork- nor thread-safe: one per thread of each process.
        client = getattr(self._local, "client", None)
        if client is None or self._local.pid != os.getpid():
            # Short timeouts: an outage must fail a request in seconds, not hang it.
            client = hvac.Client(url=self.addr, token=self._token, timeout=self.timeout)
            self._local.client, self._local.pid = client, os.getpid()
        return client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _UNAVAILABLE as error:
            raise KeyStoreUnavailable(f"{self.describe()} did not answer ({what}: {type(error).__name__})") from None
        except hvac.exceptions.Forbidden:
            raise KeyStoreUnavailable(f"{self.describe()} refused the token ({what}: permission denied)") from None

    @property
    def _transit(self):
        return self._client().secrets.transit

    def _tombstone_path(self, name: str) -> str:
        return f"destroyed/{name}"

    def _tombstone(self, name: str) -> tuple[tuple[int, ...], datetime] | None:
        try:
            data = self._call("read register", self._client().secrets.kv.v1.read_secret,
                              self._tombstone_path(name), mount_point=self.kv_mount)["data"]
        except hvac.exceptions.InvalidPath:
            return None
        return tuple(data["versions"]), datetime.fromisoformat(data["destroyed_at"])

    def _read_key(self, name: str) -> dict | None:
        try:
            return self._call("read key", self._transit.read_key, name, mount_point=self.transit_mount)["data"]
        except hvac.exceptions.InvalidPath:
            return None

    def _absent(self, scope: str) -> Exception:
        """The error for a key the store does not hold: destroyed (registered) or unknown."""
        name = self.key_name(scope)
        if self._tombstone(name) is not None:
            return KeyDestroyed(f"the key-encryption key of {scope} has been destroyed")
        return KeyUnavailable(f"key-encryption key {name} is not in {self.describe()}")

    @staticmethod
    def _parse(ciphertext: str) -> tuple[int, bytes]:
        # "vault:v3:base64...": the version is the KEK version that wrapped it.
        _, version, _ = ciphertext.split(":", 2)
        return int(version[1:]), ciphertext.encode("ascii")

    def create(self, scope: str) -> None:
        name = self.key_name(scope)
        if self._tombstone(name) is not None:
            raise KeyDestroyed(f"the key-encryption key of {scope} was destroyed; it is never re-created")
        # Creating an existing key changes nothing, so a retried creation is harmless.
        self._call("create key", self._transit.create_key, name, key_type="aes256-gcm96", derived=True,
                   exportable=False, allow_plaintext_backup=False, mount_point=self.transit_mount)

    def wrap(self, scope: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        name = self.key_name(scope)
        # Transit's encrypt creates a missing key ("upsert"): a destroyed key would come back, fresh and
        # empty. So look first (wraps are rare: scope creation, rotation, migration), and grant the
        # application's token `update` but not `create` on transit/encrypt/* (README).
        if self._read_key(name) is None:
            raise self._absent(scope)
        answer = self._call("encrypt", self._transit.encrypt_data, name, plaintext=_b64(key),
                            context=_b64(context), mount_point=self.transit_mount)
        return self._parse(answer["data"]["ciphertext"])

    def unwrap_many(self, scope: str, items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes]:
        name = self.key_name(scope)
        batch = [{"ciphertext": wrapped.decode("ascii"), "context": _b64(context)} for _v, wrapped, context in items]
        try:
            answer = self._call("decrypt", self._transit.decrypt_data, name, ciphertext=batch[0]["ciphertext"],
                                batch_input=batch, mount_point=self.transit_mount)
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath):
            # Transit says 400 "encryption key not found" for a deleted key: tell that apart from a bad wrap.
            if self._read_key(name) is None:
                raise self._absent(scope) from None
            raise DecryptionError(f"{self.describe()} cannot unwrap a data key of {scope}") from None
        results = answer["data"]["batch_results"]
        if any("error" in item and item["error"] for item in results):
            raise DecryptionError(f"{self.describe()} cannot unwrap a data key of {scope}")
        return [base64.b64decode(item["plaintext"]) for item in results]

    def rotate(self, scope: str) -> int:
        name = self.key_name(scope)
        try:
            self._call("rotate", self._transit.rotate_key, name, mount_point=self.transit_mount)
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath):
            raise self._absent(scope) from None
        return self._read_key(name)["latest_version"]

    def rewrap(self, scope: str, version: int, wrapped: bytes, context: bytes) -> tuple[int, bytes]:
        # Transit re-encrypts inside the server: the data key is never in our memory.
        answer = self._call("rewrap", self._transit.rewrap_data, self.key_name(scope),
                            ciphertext=wrapped.decode("ascii"), context=_b64(context), mount_point=self.transit_mount)
        return self._parse(answer["data"]["ciphertext"])

    def destroy(self, scope: str, known_versions: Sequence[int] = ()) -> Receipt:
        name = self.key_name(scope)
        earlier = self._tombstone(name)
        if earlier is not None:
            return Receipt(self.backend, name, earlier[0], earlier[1])
        key = self._read_key(name)
        versions = tuple(sorted(int(v) for v in key["keys"])) if key else tuple(sorted(set(known_versions)))
        reported = None
        if key is not None:
            self._call("allow deletion", self._transit.update_key_configuration, name, deletion_allowed=True,
                       mount_point=self.transit_mount)
            response = self._call("delete key", self._transit.delete_key, name, mount_point=self.transit_mount)
            reported = _http_date(getattr(response, "headers", {}).get("Date"))
        # Confirmed only when the store itself says the key is not there.
        if self._read_key(name) is not None:
            raise KeyStoreUnavailable(f"{name} is still in {self.describe()} after its deletion")
        destroyed_at = clock.now()
        # The register is written after the delete is confirmed: it never claims a live key is gone.
        try:
            self._call("write register", self._client().secrets.kv.v1.create_or_update_secret,
                       self._tombstone_path(name),
                       {"versions": list(versions), "destroyed_at": destroyed_at.isoformat()},
                       mount_point=self.kv_mount)
        except hvac.exceptions.InvalidPath:
            # Deleted, but not registered: the retry finds the key gone and registers it then.
            raise KeyUnavailable(f"{name} is deleted, but the register of destroyed keys (KV mount "
                                 f"{self.kv_mount!r}) does not exist in {self.describe()}") from None
        log.warning("key-encryption key %s destroyed in %s", name, self.describe())
        return Receipt(self.backend, name, versions, destroyed_at, reported)

    def state(self, scope: str) -> KeyState | None:
        name = self.key_name(scope)
        key = self._read_key(name)
        if key is not None:
            return KeyState(self.backend, name, tuple(sorted(int(v) for v in key["keys"])))
        tombstone = self._tombstone(name)
        if tombstone is None:
            return None
        return KeyState(self.backend, name, tombstone[0], tombstone[1])

    def _list(self, what: str, fn, *args, **kwargs) -> list[str]:
        try:
            return self._call(what, fn, *args, **kwargs)["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            return []

    def inventory(self) -> Inventory:
        live = self._list("list keys", self._transit.list_keys, mount_point=self.transit_mount)
        destroyed = self._list("list register", self._client().secrets.kv.v1.list_secrets, "destroyed",
                               mount_point=self.kv_mount)
        prefix = f"{self.prefix}-"
        return Inventory(live={n for n in live if n.startswith(prefix)},
                         destroyed={n for n in destroyed if n.startswith(prefix)})

    def ping(self) -> None:
        health = self._call("health", self._client().sys.read_health_status, method="GET")
        if not isinstance(health, dict) or health.get("sealed") or not health.get("initialized", True):
            raise KeyStoreUnavailable(f"{self.describe()} is sealed or not initialised")


def _http_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(timezone.utc).isoformat()
    except (TypeError, ValueError):
        return None
