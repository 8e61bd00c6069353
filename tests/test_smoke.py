"""The server starts, answers health checks, and the API schema is served."""
import requests


def test_health(packyard):
    assert requests.get(packyard.url + "/health/live").json()["status"] == "ok"
    ready = requests.get(packyard.url + "/health/ready")
    assert ready.status_code == 200, ready.text


def test_api_docs_page_works_offline(packyard):
    """The Swagger UI's files come from Packyard itself, never a CDN."""
    page = requests.get(packyard.url + "/api/v1/docs/")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in page.text
    script = requests.get(packyard.url + bundle)
    assert script.status_code == 200 and len(script.content) > 100_000
