"""CSV import: report, bad rows with line numbers, bad files refused whole, CLI and API."""
import io

import pytest
import sqlalchemy as sa

from privacy_saas.controller.contacts import importer, service
from privacy_saas.controller.contacts.models import Contact

HEADER = "email,name,phone,company,job_title\n"


def _import(data: bytes, **kwargs):
    return importer.import_file(data, source=kwargs.pop("source", "event"),
                                basis=kwargs.pop("basis", "legitimate_interest"), **kwargs)


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Contact))


def test_report_counts_created_updated_unchanged(ready, make_contact):
    make_contact(email="known@example.com", name="Known", company="Old Co")
    make_contact(email="same@example.com", name="Same", phone=None, company=None, job_title=None)
    data = (HEADER + "new@example.com,New Person,+44 1234 567890,New Co,CTO\n"
            "KNOWN@example.com,,,New Co,\n"
            "same@example.com,Same,,,\n").encode()
    report = _import(data)
    assert report.counts() == {"rows": 3, "created": 1, "updated": 1, "unchanged": 1, "suppressed": 0,
                               "rejected": 0}
    known = service.find_by_email("known@example.com")
    # Non-empty fields replace; empty ones keep what we had; source and basis stay as first collected.
    assert (known.name, known.company, known.lawful_basis) == ("Known", "New Co", "legitimate_interest")
    created = service.find_by_email("new@example.com")
    assert (created.name, created.phone, created.job_title, created.source) == (
        "New Person", "+44 1234 567890", "CTO", "event")


def test_bad_rows_are_rejected_with_line_numbers_and_the_rest_imported(ready):
    data = (HEADER
            + "ok1@example.com,One,,,\n"                 # line 2
            + "not-an-email,Two,,,\n"                    # line 3
            + "ok2@example.com,Two,,\n"                  # line 4: 4 fields
            + "\n"                                       # line 5: blank, skipped
            + '"multi@example.com","Multi\nLine",,,\n'   # lines 6-7: a quoted newline
            + "ok3@example.com,Three,call me,,\n"        # line 8: bad phone
            + "OK1@example.com,Dup,,,\n"                 # line 9: duplicate of line 2
            + "ok4@example.com," + "x" * 201 + ",,,\n"   # line 10: name too long
            + ",NoEmail,,,\n"                            # line 11
            + "ok5@example.com,Five,,,\n").encode()      # line 12
    report = _import(data)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "not a valid e-mail address"),
        (4, "expected 5 fields, found 4"),
        (6, "name contains control characters"),
        (8, "phone may hold digits, spaces and + ( ) . / - x only (3 to 40 characters)"),
        (9, "duplicate of line 2"),
        (10, "name is longer than 200 characters"),
        (11, "e-mail is required"),
    ]
    assert report.created == 2 and report.rejected_count == 7 and report.rows == 9
    assert _count(ready) == 2


@pytest.mark.parametrize("data,message", [
    (b"mail,name\nx@example.com,X\n", "line 1: unknown column(s) 'mail'"),
    (b"name,company\nX,Y\n", "line 1: missing column(s) email"),
    (b"email,email\nx@example.com,y@example.com\n", "line 1: a column appears twice"),
    (b"", "line 1: the file is empty"),
    (b"email,name\nok@example.com,Ren\xe9\n", "line 2: not valid UTF-8 (byte 0xe9)"),
    (b"email,name\nok@example.com,A\nbad@example.com,\"unterminated\nmore\n", "line 3: malformed CSV"),
])
def test_bad_files_are_refused_whole(ready, data, message):
    with pytest.raises(importer.CsvFileError) as raised:
        _import(data)
    assert raised.value.message.startswith(message), raised.value.message
    assert _count(ready) == 0


def test_nul_byte_rejects_the_row(ready):
    report = _import(b"email,name\nok@example.com,A\x00B\nfine@example.com,C\n")
    assert [(r.line, r.reason) for r in report.rejected] == [(2, "name contains control characters")]
    assert report.created == 1


def test_oversized_file_is_refused(ready):
    data = (HEADER + "a@example.com,A,,,\n" * 100).encode()
    with pytest.raises(importer.CsvFileError, match="larger than the"):
        _import(data, limit=len(data) - 1)
    assert _count(ready) == 0


def test_bom_and_crlf_are_fine(ready):
    report = _import("\ufeffEmail , Name\r\nbom@example.com,Bom\r\n".encode())
    assert report.created == 1 and report.rejected == []


def test_unknown_source_or_basis(ready):
    from privacy_saas.errors import AppError

    with pytest.raises(AppError, match="unknown source"):
        _import(b"email\na@example.com\n", source="phonebook")
    with pytest.raises(AppError, match="unknown lawful_basis"):
        _import(b"email\na@example.com\n", basis="vibes")


# --- CLI -------------------------------------------------------------------------------------

def test_cli_import_prints_the_report(runner, ready, make_contact, tmp_path):
    service.erase(make_contact(email="gone@example.com"))
    ready.commit()
    path = tmp_path / "event.csv"
    path.write_text(HEADER + "a@example.com,A,,,\nbad,B,,,\ngone@example.com,G,,,\n")
    result = runner.invoke(args=["contacts", "import", str(path), "--source", "event", "--basis",
                                 "legitimate_interest"])
    assert result.exit_code == 0, result.output
    assert "created:     1" in result.output
    assert "suppressed:  1  (on the suppression list; refused)\n  lines: 4" in result.output
    assert "rejected:    1\n  line 3: not a valid e-mail address" in result.output
    assert service.find_by_email("a@example.com").source == "event"


@pytest.mark.parametrize("content,message", [
    (b"mail\nx@example.com\n", "line 1: unknown column(s) 'mail'"),
    (b"email\n\xff\xfe\n", "line 2: not valid UTF-8"),
])
def test_cli_bad_file_exits_1(runner, ready, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = runner.invoke(args=["contacts", "import", str(path), "--source", "event", "--basis", "consent"])
    assert result.exit_code == 1
    assert message in result.output and "nothing (more) was imported" in result.output
    assert _count(ready) == 0


def test_cli_oversized_file_exits_1(runner, ready, tmp_path, app, monkeypatch):
    monkeypatch.setitem(app.config, "CONTROLLER_IMPORT_MAX_BYTES", 1024 * 1024)
    path = tmp_path / "big.csv"
    path.write_bytes(HEADER.encode() + b"a@example.com,A,,,\n" * 60_000)
    result = runner.invoke(args=["contacts", "import", str(path), "--source", "event", "--basis", "consent"])
    assert result.exit_code == 1
    assert "over the 1 MiB limit" in result.output


def test_cli_missing_file_and_bad_choice(runner, ready, tmp_path):
    result = runner.invoke(args=["contacts", "import", str(tmp_path / "nope.csv"), "--source", "event",
                                 "--basis", "consent"])
    assert result.exit_code == 1 and "no such file" in result.output
    result = runner.invoke(args=["contacts", "import", "x.csv", "--source", "tenant_users", "--basis", "consent"])
    assert result.exit_code == 2 and "tenant_users" in result.output


# --- API -------------------------------------------------------------------------------------

def test_api_import(client, ready, admin_headers):
    data = {"source": "web_form", "basis": "consent",
            "file": (io.BytesIO((HEADER + "a@example.com,A,,,\nnope,B,,,\n").encode()), "contacts.csv")}
    response = client.post("/api/v1/contacts/import", data=data, headers=admin_headers,
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1
    assert response.json["rejected"] == [{"line": 3, "reason": "not a valid e-mail address"}]
    assert service.find_by_email("a@example.com").lawful_basis == "consent"


def test_api_import_bad_file_is_400_and_writes_nothing(client, ready, admin_headers):
    data = {"source": "event", "basis": "consent", "file": (io.BytesIO(b"mail\nx@example.com\n"), "c.csv")}
    response = client.post("/api/v1/contacts/import", data=data, headers=admin_headers,
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json["code"] == "invalid_csv"
    assert response.json["errors"]["file"][0].startswith("line 1: unknown column(s)")
    assert _count(ready) == 0


def test_api_import_needs_source_basis_and_file(client, ready, admin_headers):
    response = client.post("/api/v1/contacts/import", data={"source": "nowhere"}, headers=admin_headers,
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert {"source", "basis"} <= set(response.json["errors"])


def test_api_import_oversized_is_refused(client, ready, admin_headers, app, monkeypatch):
    monkeypatch.setitem(app.config, "CONTROLLER_IMPORT_MAX_BYTES", 1000)
    data = {"source": "event", "basis": "consent",
            "file": (io.BytesIO(HEADER.encode() + b"a@example.com,A,,,\n" * 100), "c.csv")}
    response = client.post("/api/v1/contacts/import", data=data, headers=admin_headers,
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "larger than" in response.json["message"]
