"""Fixtures of the job tests."""
import socket

import pytest


@pytest.fixture
def unreachable_redis(app, monkeypatch):
    """Point the app at a Redis that refuses connections (a real closed port, not a stand-in)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setitem(app.extensions, "privacy_saas.redis", None)
    return port
