"""The import-linter contract really stops controller code from reaching processor code.

Each case copies the package and the project's own contract into a temporary directory,
adds a module, and runs lint-imports there.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    shutil.copytree(ROOT / "privacy_saas", tmp_path / "privacy_saas",
                    ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative, source in extra.items():
        (tmp_path / relative).write_text(source)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(tmp_path / "pyproject.toml"), "--no-cache",
                           "--no-logo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def test_the_unchanged_package_keeps_the_contract(tmp_path):
    result = _lint(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_controller_importing_processor_breaks_it(tmp_path):
    result = _lint(tmp_path, {"privacy_saas/controller/leak.py":
                              '"""A deliberate violation."""\nfrom privacy_saas.processor.users.models import RegisteredUser\n'})
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "privacy_saas.controller.leak -> privacy_saas.processor.users.models" in result.stdout


def test_an_indirect_chain_through_a_neutral_module_breaks_it(tmp_path):
    result = _lint(tmp_path, {
        "privacy_saas/subprocessors/bridge.py": "import privacy_saas.processor.tenants.models\n",
        "privacy_saas/controller/leak.py": "def f():\n    import privacy_saas.subprocessors.bridge\n",
    })
    assert result.returncode != 0 and "BROKEN" in result.stdout


def test_processor_importing_controller_breaks_it(tmp_path):
    result = _lint(tmp_path, {"privacy_saas/processor/leak.py":
                              "from privacy_saas.controller.contacts import service\n"})
    assert result.returncode != 0 and "BROKEN" in result.stdout
