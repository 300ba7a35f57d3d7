"""The import rules of .importlinter hold (import-linter), and they do catch a forbidden import."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "jobs", "workers", "scheduler", "models", "config")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_given_the_code_when_its_imports_are_checked_then_every_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_given_an_api_module_importing_workers_when_checked_then_the_contract_is_broken(tmp_path):
    # Given the same contracts over a tree where the API imports the worker
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "api" / "calls.py").write_text("from workers import runtime\n")
    (tmp_path / "workers" / "runtime.py").write_text("")
    # When the imports are checked
    result = lint_imports(tmp_path)
    # Then it fails, naming the import
    assert result.returncode != 0
    assert "api.calls -> workers.runtime" in result.stdout
