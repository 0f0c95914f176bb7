"""Running the webhook receiver on a real HTTP server (uvicorn).

:func:`serve` blocks (``loyalty serve``); :func:`start_in_thread` serves from a daemon
thread and returns a :class:`ServerHandle` with the real URL, for tests and demos.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette

from loyalty_plugins.web.app import DEFAULT_MAX_BODY_BYTES, create_app
from loyalty_plugins.web.inbox import Processor

if TYPE_CHECKING:
    from loyalty_plugins.program import LoyaltyProgram

__all__ = ["ServerHandle", "serve", "start_in_thread"]


def serve(
    program: LoyaltyProgram,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    secrets: Mapping[tuple[str, str], str],
    processor: Processor | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_interval: float = 1.0,
    log_level: str = "info",
) -> None:
    """Serve the receiver until interrupted (Ctrl-C / SIGTERM finish in-flight requests).

    Put a TLS-terminating proxy in front of it: the platforms post to an HTTPS URL.
    """
    app = create_app(
        program,
        secrets=secrets,
        processor=processor,
        max_body_bytes=max_body_bytes,
        poll_interval=poll_interval,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    # uvicorn shuts down gracefully on the first Ctrl-C, then re-raises the signal; the
    # KeyboardInterrupt that follows is the expected way out, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class ServerHandle:
    """A receiver serving from a background thread; stop it with :meth:`stop`.

    Usable as a context manager. ``url`` is the real base URL (the port is the one the OS
    picked when ``port=0``).
    """

    def __init__(
        self,
        app: Starlette,
        server: uvicorn.Server,
        sock: socket.socket,
        host: str,
    ) -> None:
        self.app = app
        self.host = host
        self.port = int(sock.getsockname()[1])
        self.url = _url(host, self.port)
        self._server = server
        self._sock = sock
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"loyalty-webhooks-{self.port}", daemon=True
        )

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit on a failed startup
            self._error = exc

    def _start(self, timeout: float) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the webhook server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the webhook server did not start within {timeout} s")
            time.sleep(0.01)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish in-flight requests, stop the worker; wait up to ``timeout``."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    program: LoyaltyProgram,
    *,
    secrets: Mapping[tuple[str, str], str],
    processor: Processor | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    poll_interval: float = 1.0,
    startup_timeout: float = 10.0,
    access_log: bool = False,
) -> ServerHandle:
    """Serve the receiver from a daemon thread; returns once it accepts connections.

    ``port=0`` binds a free port; read it from ``handle.port`` / ``handle.url``. Logging
    configuration is left alone (uvicorn's own is not installed).
    """
    app = create_app(
        program,
        secrets=secrets,
        processor=processor,
        max_body_bytes=max_body_bytes,
        poll_interval=poll_interval,
    )
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=access_log,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    handle = ServerHandle(app, uvicorn.Server(config), sock, host)
    handle._start(startup_timeout)
    return handle
