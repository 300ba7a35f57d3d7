"""gunicorn settings read from Python (`gunicorn -c python:api.gunicorn_conf ...`, as the Procfile does).

The app bounds how many of its threads may wait for jobs (api/waits.py): it must know how many threads
gunicorn really gave each process, whatever the command line said, so each worker tells it on start."""

THREADS_KEY = "MCPS_SERVER_THREADS"


def post_worker_init(worker) -> None:
    worker.wsgi.config[THREADS_KEY] = worker.cfg.threads
