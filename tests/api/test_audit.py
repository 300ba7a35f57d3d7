"""The audit trail: every write through the API is an operations log entry (api/audit.py)."""
from models import LogEntry
from models.log_sink import log_sink


def audit_entries():
    assert log_sink.flush()
    return list(LogEntry.select().where(LogEntry.source == "audit").order_by(LogEntry.id))


def test_given_an_admin_when_it_writes_through_the_api_then_an_operations_entry_has_its_user_ip_target_and_outcome(
        app, client, admin):
    # When an admin registers a tool
    created = client.post("/api/v1/tools", headers=admin, environ_base={"REMOTE_ADDR": "10.1.2.3"},
                          json={"name": "audited", "transport": "stdio", "command": "true"})
    assert created.status_code == 201

    # Then the operations log has the write, with who, from where, what and how it ended
    with app.app_context():
        entry = [e for e in audit_entries() if e.data["endpoint"] != "auth.Login"][-1]
    assert entry.category == "operations" and entry.level == "INFO"
    assert entry.user_id is not None and entry.data["username"] == "admin-user"
    assert entry.data["ip"] == "10.1.2.3" and entry.data["method"] == "POST" and entry.data["path"] == "/api/v1/tools"
    assert entry.data["status"] == 201 and entry.data["outcome"] == "succeeded"
    assert "POST /api/v1/tools 201 succeeded by admin-user from 10.1.2.3" == entry.message


def test_given_a_viewer_and_an_api_key_when_writes_are_refused_then_they_are_audited_too(app, client, viewer, api_key):
    # Given a tool
    with app.app_context():
        from models import Tool
        tool = Tool.create(name="target", transport="stdio", command="true")
    key = api_key("operator")

    # When a viewer tries to delete it and an operator's API key tries to start a tool that is not there
    assert client.delete(f"/api/v1/tools/{tool.id}", headers=viewer).status_code == 403
    assert client.post("/api/v1/tools/target/start", headers={"X-API-Key": key}).status_code in (202, 503)

    # Then both are in the audit trail with their outcome and target tool
    with app.app_context():
        entries = audit_entries()
    refused = next(e for e in entries if e.data["method"] == "DELETE")
    assert refused.data["outcome"] == "refused" and refused.data["status"] == 403 and refused.level == "WARNING"
    assert refused.tool_id == tool.id and refused.data["username"] == "viewer-user"
    started = next(e for e in entries if e.data["path"].endswith("/start"))
    assert started.data["api_key"] == key[:len(started.data["api_key"])] and started.tool_id == tool.id


def test_given_a_failed_login_then_the_audit_has_the_username_but_never_the_password(app, client):
    client.post("/api/v1/auth/login", json={"username": "mallory", "password": "guess-guess-guess"})

    with app.app_context():
        entry = audit_entries()[-1]
    assert entry.data["username"] == "mallory" and entry.data["outcome"] == "refused" and entry.user_id is None
    assert "guess" not in entry.message + str(entry.data)


def test_given_reads_then_they_are_not_audited(app, client, viewer):
    with app.app_context():
        before = len(audit_entries())
    client.get("/api/v1/tools", headers=viewer)
    with app.app_context():
        assert len(audit_entries()) == before
