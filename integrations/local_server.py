"""What the desk's fake providers (the OMS, WhatsApp) share: a local HTTP server that serves on a
thread (tests) or in the calling one (their management commands)."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class LocalHttpServer:
    _server: ThreadingHTTPServer
    _thread: threading.Thread | None = None
    thread_name = "local-server"

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
