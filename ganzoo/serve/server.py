"""The socket and the uvicorn server behind ``ganzoo serve``.

The socket is bound here, before uvicorn starts, so a port in use is one line (not a uvicorn
log and exit 1), ``--port 0`` picks a free port the URL then names, and tests can run the same
server in a thread (``ServerThread``).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading

import uvicorn
from starlette.applications import Starlette

from ganzoo.errors import ConfigError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Only this machine can reach a server bound to ``host``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or one ``ConfigError`` line saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({exc.strerror}); "
                          "the default 127.0.0.1 always works") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use; choose another with --port "
                              "(--port 0 picks a free one)") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --host or --port") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def make_server(app: Starlette) -> uvicorn.Server:
    """uvicorn, quiet but for errors: the page is the interface, not the log."""
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))


def serve_forever(app: Starlette, sock: socket.socket) -> None:
    """Serve until Ctrl+C or SIGTERM, the normal end of a server: uvicorn finishes the requests
    in flight, then re-raises the signal, which is not an error here."""
    try:
        make_server(app).run(sockets=[sock])
    except KeyboardInterrupt:
        pass


class ServerThread:
    """The same server in a background thread, for tests and benchmarks: ``start``, ``url``, ``stop``."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind_socket(host, port)
        self.url = url_of(self.sock)
        self.server = make_server(app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 30.0) -> ServerThread:
        self.thread.start()
        for _ in range(int(timeout / 0.05)):
            if self.server.started:
                return self
            self.thread.join(0.05)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
