from models import Tool, User, db
from models.migrate import upgrade


def test_given_a_migrated_database_when_upgrading_again_then_nothing_is_pending(any_database):
    assert upgrade(any_database) == []


def test_given_a_tool_with_env_when_saved_then_the_env_is_encrypted_at_rest(any_database):
    tool = Tool.create(name="time", transport="stdio", command="uvx", env={"TOKEN": "s3cret"})

    raw = any_database.execute_sql("SELECT env FROM tool WHERE id = %s" % tool.id).fetchone()[0]

    assert "s3cret" not in raw
    assert Tool.get_by_id(tool.id).env == {"TOKEN": "s3cret"}


def test_given_a_user_when_username_reused_then_integrity_error(any_database):
    import peewee
    import pytest

    User.create(username="ann", password_hash="x")
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            User.create(username="ann", password_hash="y")
