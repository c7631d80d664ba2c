"""cliutil: a key store or database that does not answer ends a command with a message, not a traceback."""
import socket

import sqlalchemy as sa
from click.testing import CliRunner

from privacy_saas.audit.models import AuditEntry
from privacy_saas.cli import main
from privacy_saas.extensions import db
from tests import conftest
from tests.processor.tenants.test_files import GLOBEX



def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_a_command_ends_with_a_message_when_the_database_is_down(tmp_path):
    env = {"DATABASE_URL": f"postgresql+psycopg://privacy@127.0.0.1:{_closed_port()}/privacy_saas",
           "PRIVACY_SAAS_INSTANCE": str(tmp_path), "PRIVACY_SAAS_MASTER_KEYS": conftest.TEST_MASTER_KEYS,
           "PRIVACY_SAAS_KEYSTORE": "local", "OPENBAO_ADDR": None, "REDIS_URL": None}
    result = CliRunner().invoke(main, ["jobs", "status"], env=env)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: the database is unavailable (")
    assert "run it again when the database answers" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, sa.exc.SQLAlchemyError)


def test_a_command_ends_with_a_message_when_the_key_store_is_down(app, key_store_down, tmp_path):
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "globex.toml").write_text(GLOBEX.format(end="2027-06-30"), encoding="utf-8")
    applied = key_store_down.test_cli_runner().invoke(args=["tenants", "apply", str(tenants), "--yes"])
    rotated = key_store_down.test_cli_runner().invoke(args=["keys", "rotate-master"])
    for outcome in (applied, rotated):
        assert outcome.exit_code == 1, outcome.output
        assert "error: the key store is unavailable (the local key-store file" in outcome.output
        assert "Traceback" not in outcome.output
    # Nothing half-written: no tenant without keys, no audit entry of a rotation that did not happen.
    # (Read outside the commands' app: with_appcontext would run them in an app context already pushed.)
    with app.app_context():
        assert not db.session.scalar(sa.text("SELECT count(*) FROM tenants WHERE slug = 'globex'"))
        assert not db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                     .where(AuditEntry.action.in_(["tenant.create", "keys.rotate_master"])))
        db.session.remove()
