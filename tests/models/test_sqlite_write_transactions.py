"""SQLite transactions start as writers (BEGIN IMMEDIATE): a transaction that reads, then writes after
another connection committed, waits for the lock instead of failing at once with "database is locked"
(WAL refuses to upgrade a read snapshot that is no longer the newest, whatever busy_timeout says).

Found by the RBAC matrix (tests/api/test_rbac_matrix.py): the first GET /monitoring/alert-rules, which
creates the default rules in a transaction, answered 503 when the audit log's writer thread committed
between its read and its write."""
from __future__ import annotations

import threading

from models import LogEntry, db


def test_given_a_commit_between_a_transactions_read_and_write_then_the_write_waits_and_succeeds(database):
    read_done, other_tried = threading.Event(), threading.Event()
    errors = []

    def other_writer():
        read_done.wait(5)
        try:
            other_tried.set()
            LogEntry.create(category="system", message="from another connection")
        except Exception as error:  # noqa: BLE001 - the assertion below reports it
            errors.append(error)
        finally:
            db.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    # Given a transaction that reads first (as ensure_default_rules does)
    with db.atomic():
        LogEntry.select().count()
        read_done.set()
        other_tried.wait(5)
        thread.join(0.3)  # the other connection commits here when transactions begin as readers
        # When it then writes; Then it succeeds (the other writer waited for it, or went first)
        LogEntry.create(category="system", message="from the transaction")
    thread.join(10)

    assert errors == [] and LogEntry.select().count() == 2
