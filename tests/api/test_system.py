"""Health tells the truth about the database, Redis and workers; info needs a login."""
import redis as redis_lib
from flask_jwt_extended import create_access_token

from api.users.accounts import create_user
from models import User
from tests.api.conftest import PASSWORD, bearer
from jobs.registry import beat

HEALTH = "/api/v1/system/health"


def test_given_no_live_worker_when_checking_health_then_degraded_200(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    body = response.json
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["workers"] == {"ok": False, "alive": 0, "ids": [],
                                         "detail": "no live worker: tools cannot start or be called"}


def test_given_a_live_worker_when_checking_health_then_ok(app, settings, client):
    pipe = redis_lib.Redis.from_url(settings.redis.url).pipeline()
    beat(pipe, app.extensions["mcps.settings"], {"id": "w1", "pid": 1, "host": "h", "started_at": 0, "tools": []})
    pipe.execute()

    body = client.get(HEALTH).json

    assert body["status"] == "ok"
    assert body["checks"]["workers"]["ids"] == ["w1"]


def test_given_redis_down_when_checking_health_then_503_down(make_app):
    client = make_app(**{"redis.url": "redis://127.0.0.1:1/0"}).test_client()

    response = client.get(HEALTH)

    assert response.status_code == 503
    assert response.json["status"] == "down"
    assert response.json["checks"]["redis"]["ok"] is False
    assert response.json["checks"]["database"]["ok"] is True


def test_given_redis_down_when_a_token_must_be_checked_then_503_json(make_app):
    app = make_app(**{"redis.url": "redis://127.0.0.1:1/0"})
    with app.app_context():
        create_user("ann", PASSWORD)
        token = create_access_token(identity=str(User.get(User.username == "ann").id))

    response = app.test_client().get("/api/v1/system/info", headers=bearer(token))

    assert response.status_code == 503
    assert response.json == {"code": 503, "status": "Service Unavailable",
                             "message": "Redis is unavailable, retry later"}


def test_given_a_login_when_reading_info_then_version_env_engine_and_uptime(client, headers_for):
    assert client.get("/api/v1/system/info").status_code == 401

    body = client.get("/api/v1/system/info", headers=headers_for("viewer")).json

    assert body["env"] == "test" and body["database_engine"] == "sqlite"
    assert body["redis_embedded"] is False and body["uptime_s"] >= 0 and body["version"]
    assert body["started_at"].endswith("+00:00")
