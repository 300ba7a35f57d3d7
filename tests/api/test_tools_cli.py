"""`flask tools import|export`: the mcpServers JSON of Claude Desktop and Cursor on the command line."""
import json

from models import Tool

DOCUMENT = {"mcpServers": {
    "Time Server": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC", "TOKEN": "s3cret"}},
    "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer abc"}},
}}


def test_given_an_mcpservers_file_when_imported_then_tools_exist_and_export_round_trips(runner, tmp_path, app):
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(json.dumps(DOCUMENT))

    imported = runner.invoke(args=["tools", "import", str(source)])

    assert imported.exit_code == 0, imported.output
    assert "created: time-server, remote" in imported.output
    time_tool = Tool.get(Tool.name == "time-server")
    assert time_tool.display_name == "Time Server" and time_tool.env == {"TZ": "UTC", "TOKEN": "s3cret"}
    assert Tool.get(Tool.name == "remote").transport == "streamable_http"
    masked = json.loads(runner.invoke(args=["tools", "export"]).output)
    assert masked["mcpServers"]["time-server"]["env"]["TOKEN"] == "********"
    clear = json.loads(runner.invoke(args=["tools", "export", "--include-secrets"]).output)
    assert clear["mcpServers"]["remote"] == {"type": "http", "url": "https://mcp.example.com/mcp",
                                             "headers": {"Authorization": "Bearer abc"}}


def test_given_existing_tools_when_imported_again_then_skipped_unless_replace(runner, tmp_path, app):
    source = tmp_path / "servers.json"
    source.write_text(json.dumps(DOCUMENT))
    runner.invoke(args=["tools", "import", str(source)])

    again = runner.invoke(args=["tools", "import", str(source)])
    replaced = runner.invoke(args=["tools", "import", "--replace", str(source)])

    assert "skipped: time-server, remote" in again.output
    assert "updated: time-server, remote" in replaced.output


def test_given_a_bad_document_when_imported_then_a_clear_error_and_nothing_created(runner, tmp_path, app):
    source = tmp_path / "bad.json"
    source.write_text(json.dumps({"mcpServers": {"broken": {"url": "ftp://nope"}, "ok": {"command": "x"}}}))

    result = runner.invoke(args=["tools", "import", str(source)])

    assert result.exit_code != 0 and "broken" in result.output
    assert Tool.select().count() == 0
