"""The CLI: no default password anywhere; admins are created by a command that prints it once."""
import re
import subprocess
import sys
from pathlib import Path

from api import create_app
from models import User
from tests.api.conftest import LOGIN
from tests.harness import ROOT, settings_environ

PASSWORD_LINE = re.compile(r"password: (\S+)")


def test_given_no_password_when_creating_an_admin_then_one_is_generated_and_works(runner, client):
    result = runner.invoke(args=["users", "create-admin", "--username", "root"])

    assert result.exit_code == 0, result.output
    password = PASSWORD_LINE.search(result.output).group(1)
    assert User.get(User.username == "root").role == "admin"
    assert client.post(LOGIN, json={"username": "root", "password": password}).status_code == 200


def test_given_a_password_when_creating_an_admin_then_it_is_not_printed(runner, client):
    result = runner.invoke(args=["users", "create-admin", "--username", "root", "--password", "given-pass-1"])

    assert result.exit_code == 0 and "given-pass-1" not in result.output
    assert client.post(LOGIN, json={"username": "root", "password": "given-pass-1"}).status_code == 200


def test_given_a_short_password_or_taken_name_when_creating_an_admin_then_it_fails(runner):
    assert runner.invoke(args=["users", "create-admin", "--username", "root", "--password", "x"]).exit_code != 0
    assert runner.invoke(args=["users", "create-admin", "--username", "root"]).exit_code == 0
    taken = runner.invoke(args=["users", "create-admin", "--username", "root"])
    assert taken.exit_code != 0 and "taken" in taken.output


def test_given_an_empty_database_when_bootstrapping_twice_then_one_admin_printed_once(runner, client):
    first = runner.invoke(args=["bootstrap"])
    second = runner.invoke(args=["bootstrap"])

    assert first.exit_code == 0 and second.exit_code == 0
    password = PASSWORD_LINE.search(first.output).group(1)
    assert "password" not in second.output and "nothing to do" in second.output
    assert User.select().where(User.role == "admin").count() == 1
    assert client.post(LOGIN, json={"username": "admin", "password": password}).status_code == 200


def test_given_a_migrated_database_when_upgrading_then_it_reports(runner):
    result = runner.invoke(args=["db", "upgrade"])

    assert result.exit_code == 0
    assert "001_initial" in result.output or "up to date" in result.output


def test_given_a_fresh_data_dir_when_make_run_bootstraps_then_the_printed_admin_logs_in(settings):
    # Given a data dir with nothing in it (what `make run` runs first: python -m api.bootstrap)
    environ = settings_environ(settings)

    # When bootstrapping twice
    first = subprocess.run([sys.executable, "-m", "api.bootstrap"], cwd=ROOT, env=environ, capture_output=True,
                           text=True, timeout=60)
    second = subprocess.run([sys.executable, "-m", "api.bootstrap"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, timeout=60)

    # Then the secrets exist, the printed password logs in once created, and the second run does nothing
    assert first.returncode == 0, first.stderr
    assert (Path(settings.app.data_dir) / "jwt_secret").exists()
    assert (Path(settings.app.data_dir) / "encryption_key").exists()
    password = PASSWORD_LINE.search(first.stdout).group(1)
    assert second.returncode == 0 and "nothing to do" in second.stdout
    client = create_app(settings).test_client()
    assert client.post(LOGIN, json={"username": "admin", "password": password}).status_code == 200
