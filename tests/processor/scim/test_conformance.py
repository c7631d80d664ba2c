"""scim2-tester against a live server on 127.0.0.1: no failures for Users (with the enterprise extension) and Groups."""
import threading

import pytest
from werkzeug.serving import make_server

from privacy_saas.extensions import db
from privacy_saas.processor.users.tokens import create_token
from tests.helpers import new_tenant

scim2_tester = pytest.importorskip("scim2_tester")


@pytest.fixture
def live_scim(app, committed):
    """A real HTTP server on a free loopback port, and a tenant token for it."""
    tenant = new_tenant("scim-live", name="SCIM Live")
    token = create_token(tenant, "scim2-tester", actor=("test", None))[1]
    db.session.commit()
    db.session.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/scim/v2", token
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_scim2_tester_reports_no_failures(live_scim):
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    base, token = live_scim
    with Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        results = check_server(SyncSCIMClient(http), resource_types=["User", "Group"])
    failures = [f"{r.resource_type} {r.title}: {r.reason}" for r in results
                if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failures, "\n".join(failures)
    succeeded = [r for r in results if r.status == Status.SUCCESS]
    # The tester checks what the server advertises: the full User schema and the enterprise extension.
    assert len(succeeded) >= 120
    assert {r.resource_type for r in succeeded} >= {"User", "Group"}
    checked = " ".join(str(r.data) for r in succeeded if r.data)
    for attribute in ("phoneNumbers", "addresses", "title", "enterprise:2.0:User"):
        assert attribute in checked
