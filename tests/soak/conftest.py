"""Fixtures of the soak run: the many-host platform of tests/hosts (two APIs, two front doors, two worker
hosts on one Redis and one PostgreSQL), with its census of processes."""
from tests.hosts.conftest import process_census, start_procfile_worker, two_hosts  # noqa: F401  (fixtures)
