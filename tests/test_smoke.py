"""The server starts, answers health checks, and the API schema is served."""
import requests


def test_health(packyard):
    assert requests.get(packyard.url + "/health/live").json()["status"] == "ok"
    ready = requests.get(packyard.url + "/health/ready")
    assert ready.status_code == 200, ready.text
