"""config: app.yaml defaults, environment overrides, start-up checks that name the key, secrets."""
from __future__ import annotations

import stat

import pytest

from config import ConfigError, load_settings, secret


def test_given_no_environment_then_embedded_defaults():
    settings = load_settings({})

    assert settings.database.url.startswith("sqlite:///") and settings.database.url.endswith("mcps.db")
    assert settings.redis.embedded and settings.redis.url.startswith("unix://")
    assert settings.rate_limits.management == "60 per minute"


def test_given_prefixed_variables_then_they_override_with_the_type_of_the_default():
    settings = load_settings({"MCPS_MCP__TOOLS__CALL_TIMEOUT_S": "5", "MCPS_FEATURES__AUTO_SESSION": "false",
                              "MCPS_MCP__PROXY__PROTOCOLS": "http"})

    assert settings.mcp.tools.call_timeout_s == 5 and settings.features.auto_session is False
    assert settings.mcp.proxy.protocols == ["http"]


def test_given_conventional_urls_then_postgresql_and_a_real_redis():
    settings = load_settings({"DATABASE_URL": "postgresql://127.0.0.1/test", "REDIS_URL": "redis://127.0.0.1:6379/3"})

    assert settings.database.url == "postgresql://127.0.0.1/test" and settings.redis.url == "redis://127.0.0.1:6379/3"


@pytest.mark.parametrize("environ, key", [
    ({"MCPS_MCP__TOOLS__CALL_TIMEOUT_S": "soon"}, "mcp.tools.call_timeout_s"),
    ({"MCPS_FEATURES__AUTO_SESSION": "maybe"}, "features.auto_session"),
    ({"MCPS_MCP__TOOLS__NO_SUCH_KEY": "1"}, "mcp.tools.no_such_key"),
    ({"MCPS_APP__ENV": "staging"}, "app.env"),
    ({"DATABASE_URL": "mysql://x"}, "database.url"),
    ({"REDIS_URL": "http://x"}, "redis.url"),
    ({"MCPS_RATE_LIMITS__CALLS": "lots"}, "rate_limits.calls"),
    ({"MCPS_MCP__TOOLS__LOG_LEVEL": "chatty"}, "mcp.tools.log_level"),
])
def test_given_an_invalid_value_when_loading_then_the_error_names_the_key(environ, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(environ)


def test_given_production_without_secrets_when_loading_then_refused():
    with pytest.raises(ConfigError, match="jwt_secret"):
        load_settings({"MCPS_APP__ENV": "production", "MCPS_SECURITY__JWT_SECRET": "short"})


def test_given_settings_then_they_are_frozen():
    settings = load_settings({})

    with pytest.raises(AttributeError):
        settings.app.env = "production"


def test_given_no_configured_secret_when_asked_then_generated_once_and_kept_private(tmp_path):
    settings = load_settings({"MCPS_APP__DATA_DIR": str(tmp_path)})

    first = secret(settings, "jwt_secret")

    assert len(first) >= 32 and secret(settings, "jwt_secret") == first
    assert stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode) == 0o600


def test_given_the_seed_platforms_variables_then_they_set_our_keys_and_ours_win():
    settings = load_settings({"SECRET_KEY": "yes: a secret, not YAML", "LOG_LEVEL": "DEBUG", "PORT": "9000",
                              "HOST": "0.0.0.0", "CORS_ORIGINS": "http://a,http://b", "MCP_TIMEOUT": "12",
                              "ACCESS_TOKEN_EXPIRE_MINUTES": "45", "BACKUP_DIR": "/srv/backups",
                              "MCPS_SERVER__PORT": "9100"})

    assert settings.security.jwt_secret == "yes: a secret, not YAML" and settings.logging.level == "DEBUG"
    assert settings.server.port == 9100 and settings.server.host == "0.0.0.0"
    assert settings.cors.origins == ["http://a", "http://b"] and settings.mcp.tools.call_timeout_s == 12
    assert settings.security.access_token_minutes == 45 and settings.data.backup.dir == "/srv/backups"


@pytest.mark.parametrize("schedule", ["sometimes", "every 5 minutes", "1 2 3"])
def test_given_a_schedule_that_is_neither_cron_nor_every_then_the_error_names_the_key(schedule):
    with pytest.raises(ConfigError, match=r"data\.backup\.schedule"):
        load_settings({"MCPS_DATA__BACKUP__SCHEDULE": schedule})
