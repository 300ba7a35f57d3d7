"""The OpenAPI document and its readers, served without any CDN."""


def test_given_the_app_then_the_openapi_document_describes_the_api_and_its_security(client):
    spec = client.get("/openapi.json").json

    assert spec["openapi"].startswith("3.")
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}
    assert all(path.startswith("/api/v1/") for path in spec["paths"])
    users = spec["paths"]["/api/v1/users"]["get"]
    assert {"bearerAuth": []} in users["security"] and "401" in users["responses"]
    assert spec["paths"]["/api/v1/auth/login"]["post"].get("security") is None
    page = spec["components"]["schemas"]["UserPage"]
    assert {"items", "total", "page", "page_size", "pages"} <= set(page["properties"])
    assert "password_hash" not in str(spec)


def test_given_the_docs_pages_then_they_load_local_assets_and_the_spec(client):
    swagger = client.get("/docs").get_data(as_text=True)
    redoc = client.get("/redoc").get_data(as_text=True)

    assert "/openapi.json" in swagger and "/openapi.json" in redoc
    for page in (swagger, redoc):
        assert "https://" not in page and "http://" not in page
    assert client.get("/docs/assets/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/swagger-ui/swagger-ui.css").status_code == 200
    assert client.get("/docs/assets/redoc/redoc.standalone.js").status_code == 200
    assert client.get("/docs/assets/redoc/../../../api/__init__.py").status_code == 404


def operation(spec, method, path):
    return spec["paths"][path][method]


def test_given_operations_answering_200_without_a_schema_then_the_document_still_names_their_200(client):
    spec = client.get("/openapi.json").json

    for path in ("/api/v1/system/status", "/api/v1/system/metrics", "/api/v1/system/processes",
                 "/api/v1/monitoring/metrics", "/api/v1/monitoring/dashboard"):
        assert "200" in operation(spec, "get", path)["responses"], path  # else a 200 reads as the error schema


def test_given_configured_limits_then_the_document_states_this_apps_values(make_app):
    spec = make_app(**{"pagination.max_page_size": 42, "security.password_min_length": 12}).test_client() \
        .get("/openapi.json").json

    page_size = next(p for p in operation(spec, "get", "/api/v1/tools")["parameters"] if p["name"] == "page_size")
    assert page_size["schema"]["maximum"] == 42
    password = spec["components"]["schemas"]["UserCreate"]["properties"]["password"]
    assert password["minLength"] == 12 and password["maxLength"] == 1024


def test_given_rules_on_tools_and_workflows_then_the_document_states_them(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]

    tool = schemas["ToolCreate"]
    assert tool["properties"]["name"]["pattern"] and tool["properties"]["name"]["maxLength"] == 64
    assert tool["properties"]["url"]["pattern"].startswith("^[Hh][Tt][Tt][Pp]")
    assert tool["properties"]["env"]["propertyNames"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    assert [shape["properties"]["transport"]["enum"] for shape in tool["anyOf"]] == [["stdio"], ["streamable_http", "sse"]]
    steps = schemas["Execute"]["properties"]["steps"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in steps["items"]["anyOf"]} == {"NamedStep", "ToolStep", "ParallelSteps"}
    assert "__" in schemas["NamedStep"]["properties"]["name"]["pattern"]
    assert len(schemas["Complete"]["properties"]["ref"]["anyOf"]) == 2
    assert schemas["Call"]["properties"]["session_id"]["maximum"] == 2 ** 63 - 1


def test_given_answers_that_create_tools_sessions_and_tasks_then_links_lead_to_every_operation_taking_their_id(client):
    spec = client.get("/openapi.json").json

    def links(path, method, status):
        return spec["paths"][path][method]["responses"][status]["links"]

    def taking(parameter):
        return {(method, path) for path, operations in spec["paths"].items() if "{%s}" % parameter in path
                and not path.endswith("/events") for method in operations if method != "parameters"}

    for (path, status, parameter) in (("/api/v1/tools", "201", "tool_ref"), ("/api/v1/sessions", "201", "session_id"),
                                      ("/api/v1/tasks", "201", "task_id"),
                                      ("/api/v1/tools/{tool_ref}/call", "202", "task_id")):
        targets = {(link["operationRef"].rsplit("/", 1)[1],
                    link["operationRef"].split("/", 2)[2].rsplit("/", 1)[0].replace("~1", "/").replace("~0", "~"))
                   for link in links(path, "post", status).values()}
        assert targets == taking(parameter), path
        assert all(list(link["parameters"]) == [parameter] for link in links(path, "post", status).values())
