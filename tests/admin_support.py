"""Calls of the admin API through a WSGI test client, shared by the standalone server's tests."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

ADMIN = "/fakebbs/v1"


def call(admin: Client, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    """One admin request; checks the status and returns the decoded JSON."""
    response = admin.open(ADMIN + path, method=method, json=body)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.json
