"""A TCP proxy in front of the real PostgreSQL, for fault drills that must not touch the
shared server: `cut()` drops every open connection (what a restart does to clients),
`refuse()` turns new ones away, `blackhole()` accepts them and never answers (a dead
network, or a server that hangs), `open()` serves again."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


def _drop(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the thread reading it
    with suppress(OSError):
        sock.close()


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "open"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="db-proxy").start()

    def open(self) -> None:
        self.mode = "open"

    def refuse(self) -> None:
        self.mode = "refuse"

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _drop(sock)

    def close(self) -> None:
        _drop(self._listener)
        self.cut()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.mode == "refuse":
                _drop(client)
                continue
            self._keep(client)
            if self.mode == "blackhole":
                continue  # held open, never read, never answered
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _drop(client)
                continue
            self._keep(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        _drop(source)
        _drop(target)


@contextmanager
def database_through(proxy: TcpProxy) -> Iterator[None]:
    """Every new connection to the default database (Django's pool, the event loop's, the
    health check) goes through `proxy` inside the block."""
    from django.db import connections

    from supportdesk.db import loop_connection_close

    settings_dict = connections["default"].settings_dict
    original = settings_dict["HOST"], settings_dict["PORT"]

    def reconnect(host: str, port: str) -> None:
        connections.close_all()
        connections["default"].close_pool()
        loop_connection_close()
        settings_dict["HOST"], settings_dict["PORT"] = host, port

    reconnect("127.0.0.1", str(proxy.port))
    try:
        yield
    finally:
        proxy.open()
        reconnect(*original)
