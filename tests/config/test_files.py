"""The data dir is private: 0700, and the database, its WAL and generated secrets 0600."""
import os
import stat

from config import secret
from config.files import ensure_private_dir
from models import Tool, open_database, db
from models.migrate import upgrade


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_given_a_fresh_data_dir_when_the_database_and_secrets_are_created_then_only_we_can_read_them(
        make_settings, tmp_path):
    # Given a permissive umask, as a shell often has
    previous = os.umask(0o022)
    try:
        settings = make_settings(**{"app.data_dir": str(tmp_path / "data")})

        # When the secrets are generated and the database is created and written (WAL mode)
        secret(settings, "jwt_secret")
        database = open_database(settings.database.url)
        db.initialize(database)
        upgrade(database)
        from models import bind_encryption_key
        bind_encryption_key(secret(settings, "encryption_key"))
        Tool.create(name="time", transport="stdio", command="uvx")
    finally:
        os.umask(previous)

    # Then the directory is 0700 and every file in it 0600
    data_dir = tmp_path / "data"
    assert mode(data_dir) == 0o700
    files = sorted(path.name for path in data_dir.iterdir())
    assert {"mcps.db", "mcps.db-wal", "jwt_secret", "encryption_key"} <= set(files)
    assert {name: mode(data_dir / name) for name in files} == {name: 0o600 for name in files}
    database.close()


def test_given_an_existing_open_data_dir_when_started_then_it_is_tightened(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)

    ensure_private_dir(data_dir)

    assert mode(data_dir) == 0o700
