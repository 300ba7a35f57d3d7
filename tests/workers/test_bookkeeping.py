"""The bookkeeper keeps what it must write while the database is unavailable, and writes it later."""
import time

from models import Tool, db
from workers.bookkeeping import Bookkeeper


def test_given_the_database_is_locked_when_writing_then_retried_until_it_is_free(database):
    tool = Tool.create(name="t", transport="stdio", command="x")
    # The bookkeeper's own connection (opened in its thread) gives up on a lock after 50 ms.
    database._pragmas = [(k, 50 if k == "busy_timeout" else v) for k, v in database._pragmas]
    bookkeeper = Bookkeeper()
    bookkeeper.start()
    blocker = database.__class__(database.database, pragmas={"busy_timeout": 0})
    blocker.connect()
    blocker.execute_sql("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        bookkeeper.write(lambda: Tool.update(status="RUNNING").where(Tool.id == tool.id).execute())
        time.sleep(1.0)
        assert Tool.get_by_id(tool.id).status == "STOPPED"  # not written yet...
    finally:
        blocker.execute_sql("ROLLBACK")
        blocker.close()

    assert bookkeeper.flush(15)
    assert Tool.get_by_id(tool.id).status == "RUNNING"  # ...and not lost
    bookkeeper.stop()
    db.close()
