"""/logs/export streams: 100k entries leave the web process's memory where it was (measured on gunicorn)."""
import csv
import http.client
import io
import threading
from datetime import datetime, timedelta

import psutil

from api.users.accounts import create_user
from models import LogEntry, db
from tests.api.conftest import LOGIN, PASSWORD

ROWS = 100_000
MESSAGE = "tool stderr line with some payload " + "x" * 250  # ~30 MB of CSV in all


def rss_of(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def test_given_100k_entries_when_exported_then_the_stream_is_complete_and_memory_stays_bounded(
        settings, app, start_web):
    # Given 100k log entries and an admin
    start = datetime(2026, 1, 1)
    with db.atomic():
        for first in range(0, ROWS, 5000):
            LogEntry.insert_many([{"category": "mcp", "level": "INFO", "source": "stderr", "tool_id": 1,
                                   "message": f"{MESSAGE} {n}", "created_at": start + timedelta(seconds=n)}
                                  for n in range(first, first + 5000)]).execute()
    with app.app_context():
        create_user("exporter", PASSWORD, role="admin")
    web = start_web(settings, threads=4)
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=120)
    connection.request("POST", LOGIN, body=f'{{"username": "exporter", "password": "{PASSWORD}"}}',
                       headers={"Content-Type": "application/json"})
    token = __import__("json").loads(connection.getresponse().read())["access_token"]
    connection.request("GET", "/api/v1/logs?page_size=1", headers={"Authorization": f"Bearer {token}"})
    connection.getresponse().read()  # warm: the app's first request has been served
    before = rss_of(web.process.pid)

    # When the whole log is exported as CSV, read slowly enough that a buffering server would pile it up
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_of(web.process.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    connection.request("GET", "/api/v1/logs/export?format=csv&kind=mcp", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
    received, lines, tail = 0, 0, b""
    while chunk := response.read(256 * 1024):
        received += len(chunk)
        lines += chunk.count(b"\n")
        tail = (tail + chunk)[-2000:]
    done.set()
    sampler.join()

    # Then every row arrived (and the header), ~30 MB, while the server grew by far less than that
    assert lines == ROWS + 1 and received > 25 * 2**20
    last = list(csv.reader(io.StringIO(tail.decode().splitlines()[-1])))[0]
    assert last[8] == f"{MESSAGE} {ROWS - 1}"
    growth_mb = (peak[0] - before) / 2**20
    print(f"growth_mb={growth_mb:.1f} received_mb={received / 2**20:.1f}")
    assert growth_mb < 15, f"the web process grew by {growth_mb:.1f} MB while exporting"
