"""App factory, health, errors, OpenAPI."""
import pytest

from privacy_saas.config import from_env
from tests.helpers import bearer


def test_healthz_reports_database_queue_and_key_store(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"] == {"database": "ok", "queue": "ok", "key_store": "ok"}
    assert response.json["scheduler"]["state"] == "no live worker"  # tests/jobs/test_health.py: the rest


def test_healthz_is_degraded_not_down_when_the_key_store_is_unavailable(key_store_down):
    # Every node shares the key store: answering 503 would take them all out of the load balancer, though
    # tenants with cached keys and everything that needs no key still work.
    response = key_store_down.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["checks"]["key_store"] == "unavailable" and response.json["checks"]["database"] == "ok"


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


def test_job_timings_come_from_the_environment_and_nonsense_is_refused(monkeypatch, tmp_path):
    defaults = from_env(str(tmp_path), {"SECRET_KEY": "s", "PRIVACY_SAAS_MASTER_KEYS": "1:" + "A" * 43 + "="})
    assert {k: defaults[k] for k in ("PURGE_LEASE_SECONDS", "JOB_HEARTBEAT_SECONDS", "JOB_LOST_AFTER_SECONDS",
                                     "JOB_DISPATCH_TIMEOUT_SECONDS", "JOB_RETRY_BASE_SECONDS",
                                     "JOB_RETRY_MAX_SECONDS")} == {
        "PURGE_LEASE_SECONDS": 60, "JOB_HEARTBEAT_SECONDS": 10, "JOB_LOST_AFTER_SECONDS": 60,
        "JOB_DISPATCH_TIMEOUT_SECONDS": 60, "JOB_RETRY_BASE_SECONDS": 10, "JOB_RETRY_MAX_SECONDS": 900}
    assert defaults["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    monkeypatch.setenv("PRIVACY_SAAS_JOB_LOST_AFTER_SECONDS", "0.5")
    assert from_env(str(tmp_path), {"SECRET_KEY": "s", "PRIVACY_SAAS_MASTER_KEYS": "x"})["JOB_LOST_AFTER_SECONDS"] == 0.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("PRIVACY_SAAS_PURGE_LEASE_SECONDS", bad)
        with pytest.raises(ValueError, match="PRIVACY_SAAS_PURGE_LEASE_SECONDS must be a number of seconds"):
            from_env(str(tmp_path), {"SECRET_KEY": "s", "PRIVACY_SAAS_MASTER_KEYS": "x"})
