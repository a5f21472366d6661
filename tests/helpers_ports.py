"""Free localhost ports for tests that start servers in other processes, held until those servers bind.

Finding a free port by binding to port 0 and closing the socket races every
other process on the machine: between the close and the server's own bind,
anything may take the port. `reserve_ports` keeps each port bound (with
`SO_REUSEADDR`, not listening) while the test runs: the kernel then never hands
it out for another bind to port 0, a plain bind to it fails with EADDRINUSE,
and the server (gRPC, TensorFlow and KerasTuner alike, which bind with
`SO_REUSEADDR`) can still bind and listen on it. Close the sockets once the
servers are up (or at the end of the test).
"""

from __future__ import annotations

import socket


def reserve_ports(n: int) -> tuple[list[int], list[socket.socket]]:
    """`n` distinct free ports on 127.0.0.1 and the sockets holding them (close them when done)."""
    sockets = []
    for _ in range(n):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    return [s.getsockname()[1] for s in sockets], sockets


def release(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()
