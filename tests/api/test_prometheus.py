"""GET /metrics: Prometheus' text format, correct across several web and worker processes."""
import http.client
import json

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import LOGIN, PASSWORD
from tests.api.e2e import create_tool, start_tool, stdio_body
from tests.harness import wait_for

CALLS = 6


def scrape(client, headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    return {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}


def samples(families, family, name=None, **labels):
    return [s.value for s in families[family].samples if (name is None or s.name == name)
            and all(s.labels.get(k) == v for k, v in labels.items())]


def http_get(port, path, headers) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_given_calls_through_two_workers_and_two_web_processes_when_scraping_then_the_counts_are_exact(
        settings, app, client, admin, start_worker, start_web, make_user):
    # Given two worker processes, two gunicorn processes and a running echo tool
    start_worker()
    start_worker()
    tool = create_tool(client, admin, **stdio_body("echo", "echo_server.py"))
    start_tool(client, admin, tool["id"])
    webs = [start_web(settings), start_web(settings)]
    login = client.post(LOGIN, json={"username": "admin-user", "password": PASSWORD}).json
    bearer = {"Authorization": f"Bearer {login['access_token']}", "Content-Type": "application/json"}

    # When calls are made through both web processes (one fails) and each serves 3 reads
    for n in range(CALLS):
        connection = http.client.HTTPConnection("127.0.0.1", webs[n % 2].port, timeout=30)
        name = "fail" if n == 0 else "echo"
        connection.request("POST", f"/api/v1/tools/{tool['id']}/call", headers=bearer,
                           body=json.dumps({"tool": name, "arguments": {"text": "hi"} if name == "echo" else {}}))
        assert connection.getresponse().status in (200, 502), n
        connection.close()
    for web in webs:
        for _ in range(3):
            assert http_get(web.port, "/api/v1/tools", bearer) == 200

    # Then one scrape (of either process) counts every call of both workers, their latencies and the requests
    def counted():
        families = scrape(client, admin)
        total_calls = sum(samples(families, "mcps_tool_calls", tool=tool["name"]))
        reads = sum(samples(families, "mcps_http_requests", method="GET", route="/api/v1/tools", status="200"))
        return families if total_calls == CALLS and reads == 6 else None
    families = wait_for(counted, timeout=10)
    statuses = {s.labels["status"]: s.value for s in families["mcps_tool_calls"].samples}
    assert statuses == {"succeeded": CALLS - 1, "tool_error": 1}
    assert samples(families, "mcps_tool_call_duration_seconds", "mcps_tool_call_duration_seconds_count",
                   tool="echo") == [CALLS]
    inf = samples(families, "mcps_tool_call_duration_seconds", "mcps_tool_call_duration_seconds_bucket",
                  tool="echo", le="+Inf")
    assert inf == [CALLS]
    assert samples(families, "mcps_tools", status="RUNNING") == [1]
    assert samples(families, "mcps_job_queue_depth", queue="lifecycle") == [0]
    assert "mcps_proxy_sessions" in families and samples(families, "mcps_jobs", kind="start", status="succeeded") == [1]


def test_given_the_metrics_endpoint_then_only_admins_or_the_scrape_token_read_it(make_app, make_user, client, viewer):
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers=viewer)
    assert refused.status_code == 403 and refused.json["code"] == 403

    tokened = make_app(**{"monitoring.metrics_token": "scrape-secret"}).test_client()
    assert tokened.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200
    assert tokened.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
