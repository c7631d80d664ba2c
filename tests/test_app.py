"""App factory, health, errors, OpenAPI."""
from tests.helpers import bearer


def test_healthz_reports_database_and_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"] == {"database": "ok", "queue": "ok"}
    assert response.json["scheduler"]["state"] == "no live worker"  # tests/jobs/test_health.py: the rest


def test_openapi_document_lists_tenant_endpoints(client):
    spec = client.get("/api/openapi.json").json
    assert "/api/v1/tenants" in spec["paths"]
    assert "/api/v1/tenants/{slug}" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_api_without_token_is_401_json(client):
    response = client.get("/api/v1/tenants")
    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert response.json["status"] == 401


def test_api_with_bad_token_is_401(client):
    for token in ("nonsense", "pst_zz_x", "pst_" + "0" * 32 + "_secret"):
        response = client.get("/api/v1/tenants", headers=bearer(token))
        assert response.status_code == 401, token
        assert response.json["code"] == "invalid_token"


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {"status": 404, "code": "not_found", "message": response.json["message"]}


def test_invalid_query_gives_field_errors(client, staff_token):
    response = client.get("/api/v1/tenants?status=bogus", headers=bearer(staff_token))
    assert response.status_code == 400
    assert response.json["code"] == "invalid_input"
    assert "status" in response.json["errors"]


def test_security_headers(client):
    response = client.get("/console/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
