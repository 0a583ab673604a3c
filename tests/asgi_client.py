"""Call the real ASGI application (supportdesk.asgi) from sync tests, the way uvicorn does.

For endpoints that live outside Django's URLconf (the OMS and WhatsApp webhooks), which Django's test
client cannot reach. Such an endpoint may do its work in a thread of its own, with its own
database connection: tests of it use `django_db(transaction=True)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator


@dataclass
class AsgiResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    def __getitem__(self, header: str) -> str:
        return self.headers[header.lower()]


class AsgiClient:
    def request(self, method: str, path: str, *, data: bytes = b"", query_string: str = "",
                headers: dict[str, str] | None = None) -> AsgiResponse:
        from supportdesk.asgi import application

        encoded = [(b"host", b"testserver"),
                   *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items())]
        scope = {"type": "http", "http_version": "1.1", "method": method, "path": path,
                 "raw_path": path.encode(), "query_string": query_string.encode(), "scheme": "http",
                 "root_path": "", "headers": encoded, "client": ("127.0.0.1", 50000),
                 "server": ("testserver", 80)}
        return async_to_sync(_exchange)(ApplicationCommunicator(application, scope), data)

    def post(self, path: str, *, data: bytes = b"", content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> AsgiResponse:
        return self.request("POST", path, data=data,
                            headers={"Content-Type": content_type, **(headers or {})})

    def get(self, path: str) -> AsgiResponse:
        return self.request("GET", path)


async def _exchange(communicator: ApplicationCommunicator, body: bytes) -> AsgiResponse:
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=30)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=30)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait()
    return AsgiResponse(
        status_code=start["status"],
        headers={name.decode().lower(): value.decode() for name, value in start["headers"]},
        content=content,
    )
