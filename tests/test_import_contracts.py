"""The import-linter contracts of pyproject.toml really stop what they forbid, and no module imports itself.

Each contract case copies the package and the project's own contracts into a temporary
directory, adds modules, and runs lint-imports there.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    shutil.copytree(ROOT / "privacy_saas", tmp_path / "privacy_saas",
                    ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative, source in extra.items():
        (tmp_path / relative).write_text(source)
    # Wide enough that no contract name is wrapped onto two lines.
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "200"}
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


def _broken(result: subprocess.CompletedProcess) -> set[str]:
    return {match.group(1) for match in re.finditer(r"^(.+) BROKEN\b", result.stdout, re.MULTILINE)}


LAYERS = "Layers: interfaces, cross-scope domains, scopes, shared services"
SHARED = "Crypto and audit import neither scope"
DOMAIN = "Within a domain: interfaces, jobs, schemas, services, models"
ACYCLIC = "No import cycle between packages, nor between the modules of one"


@pytest.mark.parametrize("extra, broken", [
    # Every scope records into the audit log: reaching back is a violation and a cycle.
    ({"privacy_saas/audit/leak.py": "import privacy_saas.processor.tenants.models\n"}, {SHARED, LAYERS, ACYCLIC}),
    # A lower layer reaching up (even inside a function), with no cycle.
    ({"privacy_saas/crypto/leak.py": "def f():\n    from privacy_saas import rls\n"}, {LAYERS}),
    # A domain's job module importing its own API.
    ({"privacy_saas/subprocessors/tasks.py": "from privacy_saas.subprocessors import api\n"}, {DOMAIN}),
    ({"privacy_saas/loop_a.py": "import privacy_saas.loop_b\n", "privacy_saas/loop_b.py": "import privacy_saas.loop_a\n"},
     {ACYCLIC}),
])
def test_each_architecture_contract_catches_what_it_forbids(tmp_path, extra, broken):
    result = _lint(tmp_path, extra)
    assert result.returncode != 0
    assert _broken(result) == broken, result.stdout


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph("privacy_saas")
    in_cycles = sorted(module for module in graph.modules
                       if any(graph.chain_exists(importer=imported, imported=module)
                              for imported in graph.find_modules_directly_imported_by(module)))
    assert in_cycles == []
