"""A small TCP proxy a test controls: forwards 127.0.0.1:port to a target and can cut the
connection once, after a given number of bytes came back from the server."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class CuttingProxy:
    """Forward connections to ``127.0.0.1:target``; :meth:`cut_after` arms a one-shot cut."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._cut_after: int | None = None
        self.cuts = 0
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, server_bytes: int) -> None:
        """Drop the next connection that receives more than ``server_bytes`` from the server
        (counted from when this is called), once."""
        with self._lock:
            self._cut_after = server_bytes

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            pair = (client, server)
            # Both pumps shut the pair down when either ends; only the last one closes it, so
            # no pump can still be about to recv() on a descriptor number that was closed and
            # handed to a socket of the next test.
            alive = [2]
            threading.Thread(target=self._pump, args=(client, server, pair, alive, False),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pair, alive, True),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket,
              pair: tuple[socket.socket, socket.socket], alive: list[int],
              from_server: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_server:
                    with self._lock:
                        if self._cut_after is not None:
                            self._cut_after -= len(data)
                            if self._cut_after < 0:
                                self._cut_after = None
                                self.cuts += 1
                                # Half a chunk gets through: the client sees a truncated answer.
                                with contextlib.suppress(OSError):
                                    sink.sendall(data[: len(data) // 2])
                                break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            with self._lock:
                alive[0] -= 1
                last = alive[0] == 0
            if last:
                for end in pair:
                    with contextlib.suppress(OSError):
                        end.close()


@contextlib.contextmanager
def cutting_proxy(target: int) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
