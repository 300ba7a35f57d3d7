"""gunicorn settings read from Python (`gunicorn -c python:api.gunicorn_conf ...`, as the Procfile does).

The app bounds how many of its threads may wait for jobs (api/waits.py): it must know how many threads
gunicorn really gave each process, whatever the command line said, so each worker tells it on start."""

THREADS_KEY = "MCPS_SERVER_THREADS"


def post_worker_init(worker) -> None:
    worker.wsgi.config[THREADS_KEY] = worker.cfg.threads


def post_fork(server, worker) -> None:
    # The app was built in the master (--preload): each worker's own start and exit are platform events.
    import logging

    from models.log_sink import SYSTEM

    logging.getLogger("mcps.process").info("event=process.started process=web-worker pid=%d", worker.pid, extra=SYSTEM)


def worker_exit(server, worker) -> None:
    import logging

    from models.log_sink import SYSTEM, log_sink

    logging.getLogger("mcps.process").info("event=process.stopped process=web-worker pid=%d", worker.pid, extra=SYSTEM)
    log_sink.flush(2)
