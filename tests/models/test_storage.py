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


def roll_back_to_before(database, migration: str) -> None:
    """Roll back the applied migrations down to (and including) `migration`."""
    from models.migrate import router

    migrations = router(database)
    while migrations.done and migrations.done[-1] >= migration:
        migrations.rollback()


def test_given_keys_scoped_by_tool_name_when_migrated_then_scoped_by_tool_id(any_database):
    # Given keys stored before 002_tool_scope_ids, scoped by names (one of them no longer a tool)
    from models import ApiKey

    roll_back_to_before(any_database, "002_tool_scope_ids")
    time_tool = Tool.create(name="time", transport="stdio", command="uvx")
    secret_tool = Tool.create(name="secret-tool", transport="stdio", command="uvx")
    user = User.create(username="ann", password_hash="x")
    scoped = ApiKey.create(user=user, name="k", prefix="mcps_a", key_hash="a", tool_scope=["time", "gone"])
    unscoped = ApiKey.create(user=user, name="all", prefix="mcps_b", key_hash="b", tool_scope=None)

    # When the migration runs
    assert upgrade(any_database)[0] == "002_tool_scope_ids"

    # Then the scope names the same tools by id, and a later rename moves nothing
    assert ApiKey.get_by_id(scoped.id).tool_scope == [time_tool.id]
    assert ApiKey.get_by_id(unscoped.id).tool_scope is None
    Tool.update(name="time-old").where(Tool.id == time_tool.id).execute()
    Tool.update(name="time").where(Tool.id == secret_tool.id).execute()
    assert ApiKey.get_by_id(scoped.id).tool_scope == [time_tool.id]


def test_given_the_proxy_tables_when_rolled_back_and_upgraded_then_virtual_servers_and_settings_round_trip(
        any_database):
    # Given the database before 004_proxy_config, then upgraded again
    from models import ProxySetting, VirtualServer

    roll_back_to_before(any_database, "004_proxy_config")
    assert upgrade(any_database)[0] == "004_proxy_config"

    # When a virtual server and a setting are stored
    members = [{"tool_id": 7, "include": None, "hidden": ["rm"], "renames": {"echo": "say"},
                "descriptions": {"echo": "Says it back"}}]
    VirtualServer.create(name="writing", description="for writers", members=members)
    ProxySetting.create(name="naming", value="always")

    # Then they read back as stored, and the server's name is unique
    assert VirtualServer.get(VirtualServer.name == "writing").members == members
    assert ProxySetting.get_by_id("naming").value == "always"
    import peewee
    import pytest
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            VirtualServer.create(name="writing")


def test_given_a_tool_in_a_virtual_server_when_forgotten_then_the_server_no_longer_names_its_id(any_database):
    from models import VirtualServer
    from models.proxy import forget_tool_in_virtual_servers

    VirtualServer.create(name="v", members=[{"tool_id": 1}, {"tool_id": 2}])

    forget_tool_in_virtual_servers(1)

    assert VirtualServer.get(VirtualServer.name == "v").members == [{"tool_id": 2}]
