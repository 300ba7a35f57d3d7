"""The Makefile's `run` as a user meets it, with honcho replaced by a stand-in that reports what it ran."""
import os
import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT

FAKE_HONCHO = """#!/bin/sh
echo "honcho $*" >> "$HONCHO_LOG"
[ "$1" = start ] && exit "$HONCHO_START_EXIT"
exit 0
"""


def run_make(tmp_path: Path, start_exit: int) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    honcho = bin_dir / "honcho"
    honcho.write_text(FAKE_HONCHO)
    honcho.chmod(0o755)
    env = {**os.environ, "HONCHO_LOG": str(tmp_path / "honcho.log"), "HONCHO_START_EXIT": str(start_exit)}
    # -o: the virtualenv counts as installed (the real one is shared; nothing may be reinstalled into it)
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.requirements", "run", f"BIN={bin_dir}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_given_make_run_when_stopped_with_ctrl_c_then_make_reports_no_error(tmp_path):
    # When honcho ends as Ctrl-C ends it (exit 130)
    result = run_make(tmp_path, start_exit=130)

    # Then make succeeds quietly, after bootstrapping and starting
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr
    assert (tmp_path / "honcho.log").read_text().splitlines() == ["honcho run python -m api.bootstrap",
                                                                  "honcho start"]


def test_given_make_run_when_a_process_fails_then_make_reports_the_error(tmp_path):
    result = run_make(tmp_path, start_exit=1)

    assert result.returncode != 0 and "Error 1" in result.stderr


def test_given_honchos_per_process_port_when_the_procfiles_web_line_runs_then_server_port_applies(tmp_path):
    # Given the web line of the Procfile, and the PORT honcho gives its second process (5000 + 100)
    web = next(line.split(":", 1)[1].strip() for line in (ROOT / "Procfile").read_text().splitlines()
               if line.startswith("web:"))
    prefix = web[:web.index("python")]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MCPS_")}, "PORT": "5100",
           "PYTHONPATH": str(ROOT)}
    read_port = f"{sys.executable} -c \"from config import load_settings; print(load_settings().server.port)\""

    # When that line's command reads the settings
    port = subprocess.run(f"{prefix}{read_port}", shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)

    # Then the web process listens on server.port (the README's 8000), not on honcho's PORT
    assert port.stdout.strip() == "8000", port.stderr
