"""The Logs page: full-text search, filters, pages and export, read from the logs API."""
from __future__ import annotations

from datetime import timedelta

from models import LogEntry, db, utcnow


def test_a_search_finds_the_line_pages_through_many_and_exports_what_it_found(console, browser_page, sign_in,
                                                                              app, make_user):
    # Given a viewer, a platform line among many others, and 60 lines of noise
    make_user("vic", "viewer")
    now = utcnow()
    with app.app_context(), db.atomic():
        LogEntry.insert_many([dict(category="system", level="INFO", source="process", message=f"noise line {n}",
                                   created_at=now - timedelta(seconds=n)) for n in reversed(range(60))]).execute()
        LogEntry.create(category="system", level="WARNING", source="backup",
                        message="event=backup.slow zebra quartz took 42 s", created_at=now)
    page = browser_page()
    sign_in(page, "vic", next_path="/logs")

    # When they search for two of its words, in another order and case
    page.get_by_test_id("log-search").fill("Quartz zebra")
    page.get_by_test_id("log-filters").locator("button[type=submit]").click()
    page.wait_for_url("**/logs?q=Quartz+zebra*")

    # Then the page shows that line alone, with its level and kind
    rows = page.get_by_test_id("log-row")
    assert rows.count() == 1
    assert "event=backup.slow zebra quartz took 42 s" in rows.inner_text()
    assert "WARNING" in rows.inner_text() and "system" in rows.inner_text()

    # And the level filter narrows it (nothing is ERROR), the kind filter keeps it
    page.select_option("select[name=min_level]", "ERROR")
    page.get_by_test_id("log-filters").locator("button[type=submit]").click()
    page.get_by_test_id("no-logs").wait_for()
    page.select_option("select[name=min_level]", "WARNING")
    page.select_option("select[name=kind]", "system")
    page.get_by_test_id("log-filters").locator("button[type=submit]").click()
    page.wait_for_url("**kind=system**")
    assert page.get_by_test_id("log-row").count() == 1

    # When they export what they found as CSV
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    exported = open(download.value.path(), encoding="utf-8").read()

    # Then the file holds that line and no noise
    assert "zebra quartz took 42 s" in exported and "noise line" not in exported

    # When they search the noise: two pages of 50
    page.get_by_test_id("log-search").fill("noise")
    page.select_option("select[name=min_level]", "")
    page.get_by_test_id("log-filters").locator("button[type=submit]").click()
    page.get_by_test_id("pager").wait_for()
    assert page.get_by_test_id("log-row").count() == 50
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    assert page.get_by_test_id("log-row").count() == 10
    assert "noise line 59" in page.get_by_test_id("log-row").last.inner_text()  # oldest last
    assert page.console_errors == []
