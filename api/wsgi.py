"""The app for gunicorn (`gunicorn 'api.wsgi:app'`) and the CLI (`flask --app api.wsgi ...`)."""
import sys

from api import create_app
from config import load_settings
from jobs import live_events
from jobs.connection import redis_client
from models.log_sink import log_sink, setup_process_logging

# gunicorn's gthread worker hands every request from its poller thread to a pool thread and back; with
# the default 5 ms GIL switch interval those hand-offs cost ~2 ms per call under load (bench/).
sys.setswitchinterval(0.0005)
settings = load_settings()
setup_process_logging(settings, "web")
app = create_app(settings)
log_sink.on_written.append(live_events.sink_publisher(redis_client(settings), settings))
