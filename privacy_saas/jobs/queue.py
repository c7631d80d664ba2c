"""The job queue: RQ on Redis when REDIS_URL is set, else an in-process runner."""
from __future__ import annotations

from flask import Flask


def redis_connection(app: Flask):
    """Return a Redis connection for the app, or None for the embedded default."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    conn = app.extensions.get("privacy_saas.redis")
    if conn is None:
        from redis import Redis

        conn = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        app.extensions["privacy_saas.redis"] = conn
    return conn


def ping(app: Flask) -> bool:
    """Return whether the queue backend is reachable (always, in-process)."""
    conn = redis_connection(app)
    if conn is None:
        return True
    from redis.exceptions import RedisError

    try:
        return bool(conn.ping())
    except RedisError:
        return False
