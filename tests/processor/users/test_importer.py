"""CSV import of users: a report by line, bad rows write nothing."""
import sqlalchemy as sa

from privacy_saas.audit.models import AuditEntry
from privacy_saas.processor.users import importer, service


def test_import_reports_lines_and_writes_no_bad_row(session, org, make_user):
    make_user(org, "exists@example.com")
    text = ("email,name,role\n"
            "new1@example.com,New One,member\n"
            "not-an-email,Bad,member\n"
            "exists@example.com,Exists,admin\n"
            "new2@example.com,New Two,owner\n"
            "new3@example.com," + "x" * 201 + ",admin\n"
            "new4@example.com,,ADMIN\n"
            "new1@example.com,Dup,member\n")
    result = importer.import_csv(org, text, invite=False, actor=("test", None))
    assert (result.created, result.unchanged, result.rejected) == (2, 2, 3)
    assert [(e["line"], sorted(e["errors"])) for e in result.errors] == [
        (3, ["email"]), (5, ["role"]), (6, ["display_name"])]
    assert service.find_by_email(org, "new4@example.com").role == "admin"
    assert service.find_by_email(org, "new2@example.com") is None
    assert service.find_by_email(org, "exists@example.com").role == "member"
    session.commit()  # entries join their chain when the transaction commits
    assert "user.import" in session.scalars(sa.select(AuditEntry.action).where(AuditEntry.tenant_id == org.id)).all()
