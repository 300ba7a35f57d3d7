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


# Requests gunicorn refuses before the app sees them (a request line or header over these limits, a
# malformed request) are answered in the API's one error shape, not gunicorn's HTML page.
limit_request_line = 8190          # bytes of `METHOD /path?query HTTP/1.1`: longer is a 414
limit_request_fields = 100         # headers: more is a 431
limit_request_field_size = 16384   # bytes of one header: more is a 431


def _write_json_error(sock, status_int, reason, mesg):
    import json

    from gunicorn import util

    body = json.dumps({"code": status_int, "status": reason, "message": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def _answer_refusals_in_json() -> None:
    from gunicorn import util

    util.write_error = _write_json_error  # read as util.write_error at each refusal (gunicorn.workers.base)


_answer_refusals_in_json()
