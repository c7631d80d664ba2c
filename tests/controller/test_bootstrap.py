"""The controller scope works on a fresh install: lazily, and with `privacy-saas controller init`."""
import sqlalchemy as sa

from privacy_saas.controller.contacts import service
from privacy_saas.controller.suppression.models import SuppressionKeyCheck
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE
from privacy_saas.crypto.models import DataKey


def _keys(session):
    return session.scalars(sa.select(DataKey.purpose).where(DataKey.scope == CONTROLLER_SCOPE)
                           .order_by(DataKey.purpose)).all()


def test_first_create_makes_the_keys(session):
    assert _keys(session) == []
    contact = service.create({"email": "first@example.com", "source": "web_form", "lawful_basis": "consent"})
    assert _keys(session) == ["data", "index"]
    assert session.get(SuppressionKeyCheck, "controller/index/v1") is not None
    assert service.find_by_email("FIRST@example.com").id == contact.id


def test_init_command_is_idempotent(runner, session):
    for _ in range(2):
        result = runner.invoke(args=["controller", "init"])
        assert result.exit_code == 0, result.output
        assert "controller scope ready" in result.output
    assert _keys(session) == ["data", "index"]


def test_reads_on_a_fresh_install_do_not_fail(session):
    assert service.list_contacts() == ([], 0)
    assert service.find_by_email("nobody@example.com") is None
