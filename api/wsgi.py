"""The app for gunicorn (`gunicorn 'api.wsgi:app'`) and the CLI (`flask --app api.wsgi ...`)."""
from api import create_app

app = create_app()
