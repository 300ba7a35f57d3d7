"""The benchmark of the job path: `make bench` (or `python -m bench --help`)."""
