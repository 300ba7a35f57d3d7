"""Helpers of the end-to-end API tests (the app and a real worker on the test's settings): creating,
starting and waiting for tools and tasks. Their fixtures are in tests/api/conftest.py."""
from __future__ import annotations

import sys

import psutil

from models import db
from tests.harness import SERVERS, wait_for

TOOLS = "/api/v1/tools"
TASKS = "/api/v1/tasks"


def stdio_body(name: str, script: str, **fields) -> dict:
    return {"name": name, "transport": "stdio", "command": sys.executable, "args": [str(SERVERS / script)], **fields}


def create_tool(client, auth, /, **body) -> dict:
    response = client.post(TOOLS, headers=auth, json=body)
    assert response.status_code == 201, response.json
    return response.json


def start_tool(client, headers, tool_id) -> dict:
    """POST /tools/{id}/start?wait=true; asserts it succeeded and returns the finished task."""
    response = client.post(f"{TOOLS}/{tool_id}/start?wait=true", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "succeeded", response.json
    return response.json


def wait_task(client, headers, task_id, timeout=15.0) -> dict:
    """GET /tasks/{id} until it is final."""
    def final():
        body = client.get(f"{TASKS}/{task_id}", headers=headers).json
        return body if body.get("status") in ("succeeded", "failed", "cancelled") else None
    return wait_for(final, timeout)


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def raw_column(tool_id: int, column: str) -> str | None:
    """A column as stored (bypassing the model's decryption)."""
    return db.execute_sql(f"SELECT {column} FROM tool WHERE id = ?", (tool_id,)).fetchone()[0]
