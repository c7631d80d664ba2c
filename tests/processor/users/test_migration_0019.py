"""Migration 0019 on real rows: down, the external id is plaintext again; up, the e-mail becomes the userName and
the one (primary, work) e-mail, the external id is sealed and blind-indexed."""
import sqlalchemy as sa

from privacy_saas.processor.usage.models import UsageEvent
from privacy_saas.processor.users import groups, service
from privacy_saas.processor.users.models import RegisteredUser, RegisteredUserEmail
from tests.lifecycle.conftest import seed
from tests.test_migrations import scratch_app  # noqa: F401  (pytest fixture)


def test_0019_down_and_up_keeps_every_user(scratch_app):  # noqa: F811
    from flask_migrate import downgrade, upgrade

    from privacy_saas.extensions import db
    with scratch_app.app_context():
        upgrade()
        tenant = seed("scim-0019", users=2, events_per_user=2, support=0)
        events = db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)
                                   .where(UsageEvent.tenant_id == tenant.id))
        assert events == 4
        first = db.session.scalars(sa.select(RegisteredUser).where(RegisteredUser.tenant_id == tenant.id)
                                   .order_by(RegisteredUser.id)).first()
        service.update(tenant, first, external_id="idp-0019")
        group = groups.create(tenant, "Kept", members=[first.id])
        db.session.commit()
        group_id = group.id
        tenant_id, user_id, email = tenant.id, first.id, first.email
        db.session.remove()

        downgrade(revision="0020")
        plain = db.session.execute(sa.text("SELECT external_id FROM registered_users WHERE external_id IS NOT NULL"))
        assert [row[0] for row in plain] == ["idp-0019"]
        db.session.remove()

        upgrade()
        db.session.expire_all()
        user = db.session.get(RegisteredUser, (tenant_id, user_id))
        assert user.user_name == email and user.email == email
        assert user.emails == [{"value": email, "type": "work", "primary": True}]
        assert user.external_id == "idp-0019"
        tenant = user.tenant
        assert service.find_by_external_id(tenant, "idp-0019").id == user_id
        assert service.find_by_user_name(tenant, email.upper()).id == user_id
        rows = db.session.scalars(sa.select(RegisteredUserEmail).where(RegisteredUserEmail.user_id == user_id)).all()
        assert [(r.value_bidx, r.type, r.primary) for r in rows] == [(user.email_bidx, "work", True)]
        assert service.find_everywhere(email)[0] == [(tenant_id, user_id)]
        # Recreating registered_users (SQLite) cascaded into nothing: memberships and usage stay.
        assert groups.member_ids(tenant, groups.get(tenant, group_id)) == [user_id]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)
                                 .where(UsageEvent.tenant_id == tenant_id)) == events
        db.session.remove()
        db.engine.dispose()
