"""`privacy-saas users import`."""
from privacy_saas.processor.users import service


def test_cli_import_with_progress_and_line_errors(runner, tmp_path, org):
    path = tmp_path / "users.csv"
    path.write_text("email,name,role\nnew@example.com,New,member\nnot-an-email,X,member\n")
    result = runner.invoke(args=["users", "import", "acme", str(path), "--no-invite"])
    assert result.exit_code == 2, result.output
    assert "created 1, unchanged 0, rejected 1" in result.output
    assert "line 3: rejected (email: not a valid e-mail address)" in result.output
    assert service.find_by_email(org, "new@example.com") is not None
