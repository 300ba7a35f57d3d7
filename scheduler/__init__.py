"""The scheduler process: periodic jobs as data (`jobs.py`), run only by the elected leader (`leader.py`)."""
