"""`privacy-saas db check-distribution`: every table can be distributed by tenant on Citus."""
import sqlalchemy as sa

from privacy_saas import distribution
from privacy_saas.distribution import REFERENCE, TENANT, VENDOR_LOCAL
from privacy_saas.extensions import db


def wrong_schema() -> sa.MetaData:
    """A throwaway schema breaking each rule once, beside tables that keep them."""
    metadata = sa.MetaData()
    sa.Table("tenants", metadata, sa.Column("id", sa.Uuid, primary_key=True), info={"distribution": REFERENCE})
    sa.Table("people", metadata, sa.Column("id", sa.Integer, primary_key=True),
             info={"distribution": VENDOR_LOCAL})
    sa.Table("accounts", metadata,
             sa.Column("tenant_id", sa.Uuid, sa.ForeignKey("tenants.id"), primary_key=True),
             sa.Column("id", sa.Uuid, primary_key=True),
             sa.Column("login", sa.String(50)),
             sa.UniqueConstraint("tenant_id", "login"),
             info={"distribution": TENANT})
    sa.Table("sessions", metadata,
             sa.Column("id", sa.Uuid, primary_key=True),
             sa.Column("tenant_id", sa.Uuid, nullable=True),
             sa.Column("account_id", sa.Uuid),
             sa.Column("token", sa.String(64), unique=True),
             sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id")),
             sa.ForeignKeyConstraint(["tenant_id", "account_id"], ["accounts.tenant_id", "accounts.id"],
                                     ondelete="SET NULL"),
             sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
             sa.Index("ix_sessions_token_unique", "token", unique=True),
             info={"distribution": TENANT})
    sa.Table("countries", metadata, sa.Column("code", sa.String(2), primary_key=True),
             sa.Column("tenant_id", sa.Uuid), sa.Column("account_id", sa.Uuid),
             sa.ForeignKeyConstraint(["tenant_id", "account_id"], ["accounts.tenant_id", "accounts.id"]),
             info={"distribution": REFERENCE})
    sa.Table("reports", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("tenant_id", sa.Uuid), sa.Column("account_id", sa.Uuid),
             sa.ForeignKeyConstraint(["tenant_id", "account_id"], ["accounts.tenant_id", "accounts.id"]),
             info={"distribution": VENDOR_LOCAL})
    sa.Table("jobs", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return metadata


def problems_by_table(metadata) -> dict[str, list[str]]:
    return {r.name: r.problems for r in distribution.check(metadata)}


def table_lines(output: str) -> dict[str, list[str]]:
    """The command's line per table, name -> [class, verdict] (problems follow, indented)."""
    lines = {}
    for line in output.splitlines():
        words = [word.strip() for word in line.split("  ") if word.strip()]
        if not line.startswith(" ") and len(words) == 3:
            lines[words[0]] = words[1:]
    return lines


def test_the_schema_is_distributable_by_tenant(runner):
    result = runner.invoke(args=["db", "check-distribution"])
    assert result.exit_code == 0, result.output
    lines = table_lines(result.output)
    assert set(lines) == set(db.metadata.tables)
    assert lines["registered_users"] == [TENANT, "ok"]
    assert lines["usage_events"] == [TENANT, "ok"]
    assert lines["tenants"] == [REFERENCE, "ok"]
    assert lines["dsr_tasks"] == [VENDOR_LOCAL, "ok"]
    assert "every table can be distributed by tenant" in result.output


def test_every_model_declares_its_class_and_the_tenant_tables_lead_with_tenant_id():
    reports = distribution.check(db.metadata)
    assert [r.name for r in reports if not r.ok] == []
    for name, table in db.metadata.tables.items():
        if distribution.kind_of(table) == TENANT:
            assert [c.name for c in table.primary_key.columns][0] == "tenant_id", name


def test_a_wrong_schema_is_refused_rule_by_rule():
    problems = problems_by_table(wrong_schema())
    assert problems["tenants"] == problems["people"] == problems["accounts"] == []
    sessions = "\n".join(problems["sessions"])
    assert "tenant_id is nullable" in sessions
    assert "primary key (id) lacks tenant_id" in sessions
    assert "unique constraint (token) lacks tenant_id" in sessions
    assert "unique index ix_sessions_token_unique (token) lacks tenant_id" in sessions
    assert "foreign key (person_id) -> people: people is vendor-local" in sessions
    assert "foreign key (account_id) -> accounts: a key between tenant tables must pair tenant_id" in sessions
    assert "foreign key (tenant_id, account_id) -> accounts: ON DELETE SET NULL would change tenant_id" in sessions
    assert len(problems["sessions"]) == 7
    [countries] = problems["countries"]
    assert countries.startswith("foreign key (tenant_id, account_id) -> accounts: a reference table cannot "
                                "reference a tenant-distributed one")
    [reports] = problems["reports"]
    assert "a vendor-local table cannot reference a tenant-distributed one" in reports
    [jobs] = problems["jobs"]
    assert jobs.startswith("not classified: declare it in the model's __table_args__")
    assert "TENANT" in jobs and "REFERENCE" in jobs and "VENDOR_LOCAL" in jobs


def test_the_command_fails_on_a_wrong_model_and_says_what_to_fix(runner, monkeypatch):
    monkeypatch.setitem(db.metadatas, None, wrong_schema())
    result = runner.invoke(args=["db", "check-distribution"])
    assert result.exit_code == 1
    lines = table_lines(result.output)
    assert lines["sessions"] == [TENANT, "NOT DISTRIBUTABLE"]
    assert lines["jobs"] == ["(unclassified)", "NOT DISTRIBUTABLE"]
    assert lines["accounts"] == [TENANT, "ok"]
    assert "    - tenant_id is nullable; a row without a tenant has no shard: make it NOT NULL" in result.output
    assert "7 tables: 2 tenant-distributed, 2 reference, 2 vendor-local" in result.output
    assert "4 table(s) cannot be distributed by tenant: countries, jobs, reports, sessions" in result.output


def test_a_class_is_one_of_three():
    assert distribution.distribution(TENANT, postgresql_partition_by="LIST (tenant_id)") == {
        "postgresql_partition_by": "LIST (tenant_id)", "info": {"distribution": TENANT}}
    try:
        distribution.distribution("sharded")
    except ValueError as error:
        assert "unknown distribution 'sharded'" in str(error)
    else:
        raise AssertionError("an unknown class was accepted")
