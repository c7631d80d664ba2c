"""The data map: every column of every model declared, and the checker failing on what is not."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from privacy_saas.controller.retention import rules as controller_rules
from privacy_saas.crypto.fields import REGISTRY, Ciphertext, ciphertext_column
from privacy_saas.datamap import catalogue, not_personal, person_id, personal, retention, table
from privacy_saas.db import Base
from privacy_saas.lifecycle.purge import purge_tables


def throwaway_base():
    """A declarative base with its own MetaData: models built in a test never reach the app's schema."""

    class Throwaway(DeclarativeBase):
        metadata = sa.MetaData()

    return Throwaway


def test_every_column_of_every_model_is_declared(app):
    problems = catalogue.problems(Base)
    assert problems == [], "\n".join(problems)
    entries = catalogue.entries(Base)
    assert {(e.table, e.column) for e in entries} == {
        (t.name, c.name) for t in Base.metadata.tables.values() for c in t.columns}


def test_a_column_added_without_a_declaration_fails_and_says_what_to_add():
    base = throwaway_base()

    class Widget(base):
        __tablename__ = "widgets"
        __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
        colour: Mapped[str] = mapped_column(sa.String(20))

    problems = catalogue.problems(base)
    assert len(problems) == 1
    assert problems[0].startswith(f"widgets.colour ({__name__}.")
    assert "is not in the data map" in problems[0]
    assert "info=" in problems[0] and "not_personal()" in problems[0] and 'personal("<category>"' in problems[0]
    with pytest.raises(catalogue.DataMapError, match="widgets.colour"):
        catalogue.entries(base)


def test_an_unknown_retention_rule_fails():
    base = throwaway_base()

    class Widget(base):
        __tablename__ = "widgets"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal(
            scope="operational", purpose="vendor_register", retention="forever"))

    [problem] = catalogue.problems(base)
    assert problem.startswith("widgets.id: unknown retention rule 'forever'; known: tenant_contract, tenant_usage")


def test_a_personal_plaintext_column_without_justification_fails_and_a_sealed_one_passes():
    base = throwaway_base()

    class Person(base):
        __tablename__ = "people"
        __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")
        tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=person_id("registered_user"))
        phone: Mapped[str] = mapped_column(sa.String(40), info=personal("contact_details", subject="registered_user"))
        email_ct: Mapped[bytes | None] = ciphertext_column(
            "email_ct", personal("contact_details", subject="registered_user"))

    assert catalogue.problems(base) == [
        "people.phone holds contact_details of registered_user in plaintext: seal it (an Encrypted attribute over "
        "ciphertext_column) or give plaintext_because='why it must be readable'"]
    assert isinstance(Person.__table__.c.email_ct.type, Ciphertext)


def test_a_justification_is_never_inherited_and_defaults_fill_the_rest():
    base = throwaway_base()

    class Person(base):
        __tablename__ = "people"
        __datamap__ = table(scope="controller", purpose="marketing", retention="contacts_no_contact",
                            lawful_basis="consent")
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=person_id("contact"))
        email_ct: Mapped[bytes | None] = ciphertext_column("email_ct", personal("contact_details", subject="contact"))

    entries = {e.column: e for e in catalogue.entries(base)}
    assert entries["id"].declaration.plaintext_because == "a random UUID, meaningless outside this database; " \
        "needed to join rows, and bound into the authenticated data of the row's ciphertexts"
    assert entries["email_ct"].declaration.plaintext_because is None
    assert entries["email_ct"].encrypted and not entries["id"].encrypted
    assert entries["email_ct"].declaration.lawful_basis == ("consent",)
    assert entries["email_ct"].declaration.retention == ("contacts_no_contact",)


def test_controller_data_needs_a_lawful_basis_and_processor_data_must_go_with_the_purge():
    base = throwaway_base()

    class Lead(base):
        __tablename__ = "leads"
        __datamap__ = table(scope="controller", purpose="marketing", retention="contacts_no_contact")
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=person_id("contact"))

    class Note(base):
        __tablename__ = "notes"
        __datamap__ = table(scope="processor", purpose="user_support", retention="tenant_record")
        tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
        user_id: Mapped[uuid.UUID] = mapped_column(info=person_id("registered_user"))

    problems = catalogue.problems(base)
    assert "leads.id: the vendor is the controller of this data: give lawful_basis=... (one or more of: consent, " \
           "contract, legal_obligation, legitimate_interest)" in problems
    assert "notes.user_id: processor data must go with the tenant's purge, but rule(s) tenant_record keep it" \
        in problems
    assert len(problems) == 2


def test_unknown_words_and_mixed_purge_rules_fail():
    base = throwaway_base()

    class Thing(base):
        __tablename__ = "things"
        __datamap__ = table(scope="processor", purpose="marketing", retention="tenant_contract")
        tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal(retention="tenant_record"))
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True, info=not_personal())
        mood: Mapped[str] = mapped_column(info=personal("feelings", subject="pet", plaintext_because="why not"))
        sealed_but_not_personal: Mapped[bytes | None] = mapped_column(Ciphertext(), info=not_personal())

    problems = catalogue.problems(base)
    assert "things.mood: unknown category 'feelings'; known: identity, contact_details, credentials, record_state, " \
           "usage, support, consent, billing, technical_ids, none" in problems
    assert any(p.startswith("things.mood: unknown data subject 'pet'") for p in problems)
    assert "things.id: purpose 'marketing' belongs to the controller scope, not processor" in problems
    assert "things.sealed_but_not_personal is sealed but declared not personal: declare what it holds with " \
           "personal(...)" in problems
    assert "table things: some columns name rules the purge erases and others rules it keeps; a tenant's row is " \
           "either erased by its purge or kept" in problems


def test_the_purge_erases_the_tables_the_map_says_and_refuses_an_undeclared_tenant_table(app):
    with app.app_context():
        names = [t.name for t in purge_tables()]
    assert set(names) == catalogue.tables_erased_by_purge(Base)
    assert {"registered_users", "usage_events", "support_requests", "user_invitations", "tenant_exports",
            "api_tokens", "dsr_tasks"} <= set(names)
    assert not {"tenants", "audit_entries", "legal_holds", "purge_runs", "deletion_certificates",
                "monthly_aggregates"} & set(names)
    # Children before parents, as the deletes need.
    assert names.index("usage_events") < names.index("registered_users")

    base = throwaway_base()

    class Undeclared(base):
        __tablename__ = "undeclared"
        tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

    class Elsewhere(base):
        __tablename__ = "elsewhere"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

    with pytest.raises(catalogue.DataMapError) as refused:
        catalogue.tables_erased_by_purge(base)
    assert refused.value.problems == [f"undeclared.tenant_id ({__name__}.{Undeclared.__qualname__}) is not in the "
                                      f"data map: {catalogue.HOW_TO_DECLARE}"]


def test_every_encrypted_attribute_is_a_sealed_personal_column(app):
    entries = {(e.table, e.column): e for e in catalogue.entries(Base)}
    assert REGISTRY
    for model, attribute in REGISTRY:
        if model.__module__.startswith("tests."):
            continue
        entry = entries[(model.__tablename__, f"{attribute}_ct")]
        assert entry.encrypted and entry.personal, entry.name
    assert sum(e.encrypted for e in entries.values()) == len(
        {(m.__tablename__, a) for m, a in REGISTRY if not m.__module__.startswith("tests.")})


def test_the_sweeps_enforce_the_registry_rules_under_their_names(app):
    swept = {rule.name for rule in retention.RULES.values() if retention.CONTROLLER_SWEEP in rule.enforced_by}
    assert {rule.name for rule in controller_rules.enforced_rules()} == swept
    assert controller_rules.DEFAULT_PERIODS == {name: retention.RULES[name].default_period for name in swept}
    declared = {rule for e in catalogue.entries(Base) for rule in e.declaration.retention}
    # Every rule some enforcing code applies is named by at least one column, and the reverse.
    enforced = {rule.name for rule in retention.RULES.values() if rule.enforced_by}
    assert enforced <= declared
    assert declared <= set(retention.RULES)
