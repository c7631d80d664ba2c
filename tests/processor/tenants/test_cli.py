"""`privacy-saas tenants token`."""
from tests.helpers import bearer


def test_cli_tenant_token(runner, client, org):
    result = runner.invoke(args=["tenants", "token", "acme", "--name", "okta"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("pst_")
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    assert runner.invoke(args=["tenants", "token", "nope"]).exit_code == 1
