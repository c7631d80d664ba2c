"""Small helpers shared by tests."""


def bearer(token: str) -> dict:
    """Return the Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}
