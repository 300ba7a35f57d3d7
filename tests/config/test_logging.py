"""One logging set-up for every process (config.logs + models.log_sink), tested in real processes."""
import json
import subprocess
import sys
from pathlib import Path

from models import LogEntry
from tests.harness import ROOT, settings_environ, wait_for

CHILD = """
import logging, sys
from config import load_settings
from models import bind_database
from models.log_sink import SYSTEM, log_kind, setup_process_logging
settings = load_settings()
setup_process_logging(settings, "probe")
bind_database(settings)
log = logging.getLogger("mcps.probe")
log.debug("event=probe.hidden")
for n in range(int(sys.argv[1])):
    log.info("event=probe.line n=%d text=%r", n, "x" * 100)
log.warning("event=probe.platform_event what=%s", "backup", extra=SYSTEM)
log.info("event=probe.tool_line", extra=log_kind("mcp", tool_id=7))
"""


def run_child(settings, lines=3, **env):
    return subprocess.run([sys.executable, "-c", CHILD, str(lines)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**settings_environ(settings), **env}, check=True)


def test_given_a_process_when_it_logs_then_key_value_lines_at_the_configured_level_on_stdout_and_in_its_file(
        settings, database):
    # When a process set up for "probe" logs (at the default level INFO)
    out = run_child(settings).stdout.splitlines()

    # Then each line is key=value with time, level, process and logger, and DEBUG is left out
    lines = [line for line in out if "event=probe." in line]
    assert len(lines) == 5 and not any("probe.hidden" in line for line in lines)
    assert lines[0].startswith("at=") and " level=INFO process=probe " in lines[0] and " logger=mcps.probe " in lines[0]
    assert any("event=process.started process=probe" in line for line in out)
    # And the same lines are in <data_dir>/logs/probe.log
    file_lines = (Path(settings.app.data_dir) / "logs" / "probe.log").read_text().splitlines()
    assert [line for line in file_lines if "event=probe." in line] == lines


def test_given_json_format_and_debug_level_when_a_process_logs_then_json_lines_with_the_messages_fields(
        settings, database):
    out = run_child(settings, MCPS_LOGGING__FORMAT="json", LOG_LEVEL="DEBUG").stdout.splitlines()

    records = [json.loads(line) for line in out]
    probe = [r for r in records if r["logger"] == "mcps.probe"]
    assert probe[0]["event"] == "probe.hidden" and probe[0]["level"] == "DEBUG"
    assert probe[1]["event"] == "probe.line" and probe[1]["n"] == "0" and probe[1]["text"] == "x" * 100
    assert probe[1]["process"] == "probe" and probe[1]["at"].endswith("+00:00")


def test_given_a_small_max_size_when_processes_share_a_file_then_it_rotates_keeping_backup_count_files(
        settings, database):
    # Given a LOG_DIR (the seed's variable) and files of at most 20 kB, 2 kept
    log_dir = Path(settings.app.data_dir) / "elsewhere"
    env = {"LOG_DIR": str(log_dir), "MCPS_LOGGING__MAX_BYTES": "20000", "MCPS_LOGGING__BACKUP_COUNT": "2"}

    # When two processes write about 2 x 50 kB to it at the same time
    children = [subprocess.Popen([sys.executable, "-c", CHILD, "300"], cwd=ROOT, env={**settings_environ(settings), **env},
                                 stdout=subprocess.DEVNULL) for _ in range(2)]
    assert [child.wait(60) for child in children] == [0, 0]

    # Then there are probe.log, probe.log.1 and probe.log.2, none much above the limit, the newest lines in probe.log
    files = sorted(path.name for path in log_dir.glob("probe.log*") if not path.name.endswith(".lock"))
    assert files == ["probe.log", "probe.log.1", "probe.log.2"]
    assert all((log_dir / name).stat().st_size < 20000 + 500 for name in files)
    assert "event=process.stopped" in (log_dir / "probe.log").read_text()


def test_given_a_process_when_it_logs_a_platform_event_then_it_is_stored_as_a_log_entry_of_its_kind(
        settings, database):
    run_child(settings)

    # Then the records with a kind are log entries (written by the sink's thread before the exit), the others not
    def stored():
        return list(LogEntry.select().order_by(LogEntry.id))
    entries = wait_for(lambda: len(stored()) >= 4 and stored())
    by_message = {entry.message.split(" ")[0]: entry for entry in entries}
    assert set(by_message) == {"event=process.started", "event=probe.platform_event", "event=probe.tool_line",
                               "event=process.stopped"}
    event = by_message["event=probe.platform_event"]
    assert (event.category, event.level, event.source) == ("system", "WARNING", "probe")
    tool_line = by_message["event=probe.tool_line"]
    assert (tool_line.category, tool_line.tool_id) == ("mcp", 7)
