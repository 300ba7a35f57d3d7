"""`python -m api.bootstrap`: what `make run` does before it starts the processes. The same as `flask --app
api.wsgi bootstrap` (migrate; create the admin `admin` with a password printed once unless an active admin
exists), without building the whole REST app first: importing every blueprint was a second of `make run`.

It also generates the secrets a fresh data dir lacks, so that the processes started next read them
rather than race to create them.
"""
from __future__ import annotations

import click
from flask import Flask

from api.auth.passwords import HASHER_KEY, make_hasher
from api.cli import bootstrap
from config import load_settings, secret
from models import bind_database


@click.command(help=__doc__)
def main() -> None:
    settings = load_settings()
    for name in ("jwt_secret", "encryption_key"):
        secret(settings, name)
    app = Flask(__name__)  # only for the password hasher, which the account rules find on current_app
    app.extensions[HASHER_KEY] = make_hasher(settings)
    database = bind_database(settings)
    try:
        with app.app_context():
            bootstrap()
    finally:
        database.close()


if __name__ == "__main__":
    main()
