"""Hostile input on the REST API: schemathesis over the whole OpenAPI document (/openapi.json), as each
role (admin, operator, viewer, an API key), in-process against the WSGI app (real Redis, SQLite).

Every generated request, valid (positive) or not (negative), is sent once per role; each answer must be
no 5xx, a status code and body the document describes, a schema-valid request never refused with a
400/422 (but for the rules no OpenAPI 3.0 schema can state, BEYOND_THE_DOCUMENT, each named by its
message) and an invalid one never accepted. Findings are collected (not shrunk: the run stays bounded in
time) and reported all at once. The stateful run follows the document's links from the operations that
create tools, sessions and tasks to those that take their ids.
"""
from __future__ import annotations

import collections
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth

from api.auth.tokens import access_token_for
from models import ApiKey, User

ROLES = ("admin", "operator", "viewer", "api_key")
EXAMPLES_PER_MODE = 3  # per operation and generation mode; each example is sent as every role
STREAMS = r"/events$|/ws$"  # never-ending SSE / WebSocket streams: tests/api/test_events.py covers them
FUZZ_ID_BASE = 900_000  # the fuzz users and key get ids far from the small ones hypothesis likes
CREDENTIALS = ("authorization", "x-api-key")

# Rules no OpenAPI 3.0 schema can state: across two parameters, against what is stored, unique across
# items, or on the names of an object's keys (stated as `propertyNames`, which 3.0 generators ignore).
# A schema-valid request refused with one of these messages is the API working as documented.
BEYOND_THE_DOCUMENT = {
    "must be before until": "since/until: a time window across two parameters",
    "more than 5000 points": "since/until/step: points across three parameters",
    "more than 2000 buckets": "since/until/bucket: buckets across three parameters",
    "no tool ": "a workflow step or virtual server names a tool that must exist",
    "duplicate step id": "step ids unique across a workflow's steps",
    "not an earlier step": "a ${step} reference names an earlier step",
    "not a cron expression": "cron ranges and steps (min <= max, a step within its field); the shape is a pattern",
    "not a valid HTTP header name": "header names (propertyNames)",
    "not a valid environment variable name": "environment variable names (propertyNames)",
    ".key: ": "object key lengths (propertyNames)",
    "the body's name must be the path's": "a body field against the path",
    "the tool definition is not valid": "a change merged with the stored definition (transport fields)",
    "the mcpServers document is not valid": "an mcpServers entry becomes a tool definition checked as POST /tools",
    "two tools renamed": "renames unique across a virtual server's tools",
    "a tool is listed twice": "tools unique across a virtual server",
    "two virtual servers share a name": "names unique across virtual servers",
    "not a setting that can change at run time": "run-time settings are config.runtime's keys",
    "no setting given": "PATCH needs one setting (PUT {} resets them all)",
    "Must be in the future.": "an expiry against the clock",
    "current password is incorrect": "a credential, not a shape",
    "Not a valid token.": "a refresh token only the API issues",
    "not one of your refresh tokens": "a refresh token only the API issues",
    "the tool source needs a tool_id": "source=tool needs tool_id: a rule across two parameters",
}
EXCLUDED_CHECKS = (ignored_auth,)  # it assumes generated credentials are invalid: each role sends real ones


@pytest.fixture
def settings(make_settings):
    # Short waits: with no worker running, a sync call or lifecycle wait answers 202 after one second.
    return make_settings(**{"mcp.jobs.wait_max_s": 1, "mcp.jobs.call_timeout_max_s": 1})


class Roles:
    """Credentials of each role, minted afresh for every request: a fuzzed logout, reset-password or
    key deletion must not silence the rest of the run."""

    def __init__(self, app, make_user):
        self.app = app
        self.user_ids = {}
        for offset, role in enumerate(("admin", "operator", "viewer")):
            user = make_user(f"fuzz-{role}", role)
            with app.app_context():
                User.update(id=FUZZ_ID_BASE + offset).where(User.id == user.id).execute()
            self.user_ids[role] = FUZZ_ID_BASE + offset
        self.key = api_key_of(app, self.user_ids["operator"])

    def headers(self, role: str) -> dict:
        if role == "api_key":
            return {"X-API-Key": self.key}
        with self.app.app_context():
            return {"Authorization": f"Bearer {access_token_for(User.get_by_id(self.user_ids[role]))}"}


def api_key_of(app, user_id: int) -> str:
    from api.auth.apikeys import create_api_key

    with app.app_context():
        key_row, raw = create_api_key(User.get_by_id(user_id), "fuzz")
        ApiKey.update(id=FUZZ_ID_BASE + 100).where(ApiKey.id == key_row.id).execute()
    return raw


@pytest.fixture
def roles(app, client, make_user):
    roles = Roles(app, make_user)
    # Something for ids and names to find: a stdio tool (never started: no worker in this test).
    created = client.post("/api/v1/tools", headers=roles.headers("admin"),
                          json={"name": "time", "transport": "stdio", "command": "uvx", "args": ["mcp-server-time"]})
    assert created.status_code == 201, created.json
    return roles


class FuzzRun:
    """Sends each generated case as every role, validates the answer, and tallies what it found."""

    def __init__(self, client, roles: Roles):
        self.client, self.roles = client, roles
        self.sent = collections.Counter()
        self.reached = collections.Counter()  # operation label -> answers other than 401/403/404
        self.findings: dict[tuple, str] = {}

    def send(self, case) -> None:
        generated = {k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIALS}
        negated = str(getattr(case.meta.phase.data, "parameter", None) or "").lower()
        if case.meta.generation.mode.is_negative and (negated in CREDENTIALS or len(generated) != len(case.headers or {})):
            return  # its invalid part was the credentials, which each role replaces with its own
        for role in ROLES:
            headers = self.roles.headers(role)
            case.headers = {**generated, **headers}  # in the case itself: schemathesis judges what was sent
            started = time.monotonic()
            response = case.call()
            self.sent[role] += 1
            if response.status_code not in (401, 403, 404):
                self.reached[case.operation.label] += 1
            if time.monotonic() - started > 5:
                self.record(case, role, "slow", f"took {time.monotonic() - started:.1f} s")
            try:
                case.validate_response(response, excluded_checks=list(EXCLUDED_CHECKS))
            except BaseExceptionGroup as group:
                for failure in group.exceptions:
                    if not beyond_the_document(failure, response):
                        self.record(case, role, type(failure).__name__, f"{response.status_code} {response.text[:300]}")
            except AssertionError as failure:
                self.record(case, role, type(failure).__name__, f"{response.status_code} {response.text[:300]}")
            if case.operation.path == "/api/v1/system/config" and response.status_code == 200:
                # A fuzzed setting (a long wait, a log level) must not change the rest of the run.
                self.client.put("/api/v1/system/config", headers=self.roles.headers("admin"), json={})

    def record(self, case, role: str, kind: str, detail: str) -> None:
        key = (case.operation.label, kind)
        if key not in self.findings:
            self.findings[key] = f"{role}: {detail}\n      {case.as_curl_command()[:600]}"

    def report(self) -> str:
        lines = [f"sent per role: {dict(self.sent)}; operations answered beyond 401/403/404: {len(self.reached)}"]
        lines += [f"  {label} [{kind}] {detail}" for (label, kind), detail in sorted(self.findings.items())]
        return "\n".join(lines)


def beyond_the_document(failure, response) -> bool:
    return (type(failure).__name__ == "RejectedPositiveData" and response.status_code in (400, 422)
            and any(fragment in response.text for fragment in BEYOND_THE_DOCUMENT))


def fuzz_operations(schema, run: FuzzRun, examples: int) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                                 suppress_health_check=list(HealthCheck))
            def each(case):
                run.send(case)

            try:
                each()
            except Exception as error:  # hypothesis gives up on an unsatisfiable strategy: no request to send
                if type(error).__name__ != "Unsatisfiable":
                    raise


@pytest.mark.timeout(400)  # about a minute alone; the machine is shared
def test_given_every_operation_as_every_role_then_no_5xx_and_every_answer_matches_the_document(app, client, roles):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).exclude(path_regex=STREAMS)
    run = FuzzRun(client, roles)

    fuzz_operations(schema, run, EXAMPLES_PER_MODE)

    print(run.report())
    assert sum(run.sent.values()) >= 1000, run.report()
    assert not run.findings, run.report()


ID_PARAMETERS = ("{tool_ref}", "{session_id}", "{task_id}")


def forget_what_scenarios_made() -> None:
    from models import Alert, AlertRule, Message, NotificationDelivery, RuntimeSetting, Session, Task, Tool, \
        VirtualServer, WebhookTarget

    for model in (Message, Session, Task, VirtualServer, NotificationDelivery, Alert, WebhookTarget, RuntimeSetting):
        model.delete().execute()
    AlertRule.delete().where(AlertRule.config_key.is_null()).execute()
    Tool.delete().where(Tool.name != "time").execute()
    ApiKey.delete().where(ApiKey.id != FUZZ_ID_BASE + 100).execute()
    User.delete().where(User.id < FUZZ_ID_BASE).execute()
    User.delete().where(User.id > FUZZ_ID_BASE + 2).execute()


@pytest.mark.timeout(400)
def test_given_links_from_creating_answers_then_a_stateful_run_reaches_the_operations_behind_ids(app, client, roles):
    # The stateless run covers every operation: this one follows the links among tools, sessions and tasks.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).exclude(path_regex=STREAMS).include(
        path_regex=r"^/api/v1/(tools|sessions|tasks)")
    run = FuzzRun(client, roles)

    class AsAnAdmin(schema.as_state_machine()):
        def setup(self):
            # Each scenario starts from the same data: hypothesis replays scenarios and expects the
            # same answers (a name taken by the previous scenario would turn a 201 into a 409).
            with app.app_context():
                forget_what_scenarios_made()

        def before_call(self, case):
            # Generated credentials (an X-API-Key would win over a bearer token) give way to the admin's.
            generated = {k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIALS}
            case.headers = {**generated, **roles.headers("admin")}

        def after_call(self, response, case):
            super().after_call(response, case)
            run.sent["admin"] += 1
            if response.status_code not in (401, 403, 404):
                run.reached[case.operation.label] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(response, excluded_checks=list(EXCLUDED_CHECKS), transport_kwargs=kwargs or None)
            except BaseExceptionGroup as group:
                for failure in group.exceptions:
                    if not beyond_the_document(failure, response):
                        run.record(case, "admin", type(failure).__name__, f"{response.status_code} {response.text[:300]}")

    # Derandomized: the same scenarios each run, so that how far they reach is a fact of the document's
    # links, not of the draw (random draws reached 4 to 10 of the 28).
    AsAnAdmin.run(settings=hypothesis_settings(max_examples=40, stateful_step_count=6, deadline=None, database=None,
                                                derandomize=True, phases=[Phase.generate],
                                                suppress_health_check=list(HealthCheck)))

    behind_ids = sorted(label for label in run.reached if any(parameter in label for parameter in ID_PARAMETERS))
    print(run.report(), f"\noperations taking an id answered beyond 401/403/404: {len(behind_ids)}", *behind_ids,
          sep="\n  ")
    assert len(behind_ids) >= 5, behind_ids  # about 9 of the 28 in a run; without the links, 1 or 2
    assert not run.findings, run.report()
