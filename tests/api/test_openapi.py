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
