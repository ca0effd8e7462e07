"""Free TCP ports on loopback for servers a test or benchmark starts."""

from __future__ import annotations

import contextlib
import random
import socket


def free_port() -> int:
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> int:
    """Return the first of `count` consecutive TCP ports that are free right now.

    Chosen below Linux's ephemeral range (32768–60999), where outgoing connections and other
    tests' `free_port()` cannot take the later ones before their server binds them.
    """
    for _ in range(100):
        base = random.randrange(20000, 32768 - count)
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} consecutive free ports")
