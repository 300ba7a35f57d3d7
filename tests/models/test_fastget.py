"""models.fastget: the hot path's compiled-once lookups and inserts behave as peewee's own queries."""
from __future__ import annotations

from models import Task, Tool, utcnow
from models.fastget import get_by, insert_rows


def test_given_a_row_when_fetched_then_the_same_as_peewee_and_saving_writes_only_changes(any_database):
    tool = Tool.create(name="time", transport="stdio", command="x", env={"K": "v"})

    fetched = get_by(Tool, Tool.id, tool.id)

    assert fetched.name == "time" and fetched.env == {"K": "v"} and fetched.id == tool.id
    assert get_by(Tool, Tool.name, "nothing") is None
    fetched.description = "changed"
    fetched.save()
    assert Tool.get_by_id(tool.id).description == "changed" and Tool.get_by_id(tool.id).env == {"K": "v"}


def test_given_only_some_columns_when_fetched_then_just_those_are_read(any_database):
    tool = Tool.create(name="time", transport="stdio", command="x", mcp_tools=[{"name": "big"}])

    fetched = get_by(Tool, Tool.id, tool.id, only=(Tool.id, Tool.status))

    assert fetched.status == tool.status and "mcp_tools" not in fetched.__data__


def test_given_rows_when_inserted_twice_then_the_second_time_upserts_the_preserved_fields(any_database):
    rows = [{"id": f"t{n}", "kind": "call", "status": "running", "created_at": utcnow()} for n in range(3)]
    insert_rows(Task, rows)

    insert_rows(Task, [{**row, "status": "succeeded"} for row in rows], Task.id, (Task.status,))

    assert sorted(task.status for task in Task.select()) == ["succeeded"] * 3
