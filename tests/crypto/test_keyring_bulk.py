"""Keys read in bulk: a look-up across every tenant reads their keys with a query per thousand, not one each."""
import pytest

from privacy_saas.crypto import keyring as keyring_module
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.crypto.service import create_tenant_keys, destroy_tenant_keys
from tests.helpers import statements

EMAIL = "Ada.Lovelace@Example.org"


@pytest.fixture
def scopes(session, make_tenant):
    tenants = [make_tenant(f"bulk-{n}") for n in range(5)]
    for tenant in tenants:
        create_tenant_keys(tenant)
    session.flush()
    return tenants


def test_blind_indexes_agree_with_one_by_one_and_skip_shredded_scopes(session, scopes):
    destroy_tenant_keys(scopes[2])
    session.flush()
    wanted = [(tenant_scope(t.id), EMAIL) for t in scopes] + [(tenant_scope(scopes[0].id), "other@example.org")]
    found = keyring().blind_indexes(wanted)
    assert set(found) == set(wanted) - {(tenant_scope(scopes[2].id), EMAIL)}
    for (scope, email), bidx in found.items():
        assert bidx == keyring().email_index(scope, email)
    assert len(set(found.values())) == len(found)  # every tenant's index key differs


@pytest.mark.parametrize("cached", [False, True])
def test_keys_are_read_with_one_query_per_chunk_of_scopes(session, scopes, monkeypatch, cached):
    monkeypatch.setattr(keyring_module, "SCOPES_PER_QUERY", 2)
    ring = keyring()
    ring._cache.clear()
    if cached:  # cached entries are re-checked in the same queries, not one each
        ring.blind_indexes((tenant_scope(t.id), EMAIL) for t in scopes)
        monkeypatch.setattr(ring._cache, "recheck", 0)
    with statements(session) as seen:
        found = ring.blind_indexes((tenant_scope(t.id), EMAIL) for t in scopes)
    assert len(found) == 5
    assert len([s for s in seen if "data_keys" in s]) == 3  # 5 scopes, 2 a query
