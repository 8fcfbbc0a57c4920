#!/usr/bin/env python3
"""Page latency for a real client while other LAN addresses hold 2,000 idle
sockets and 64 stalled uploads open (issue: a hostile LAN). Usage:
bench-hostile.py NAME PORT [NAME PORT ...]; prints one line per server.
Attackers are other loopback addresses (127.0.0.2 and up); the client is
127.0.0.1. Every loop is bounded; sockets are closed at the end."""
import resource
import socket
import sys
import time

IDLE, STALLED, REQUESTS = 2000, 64, 200


def connect(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def hold(port):
    held = []
    for i in range(IDLE):
        try:
            held.append(connect(f"127.0.0.{2 + i // 100}", port))
        except OSError:
            pass
    stall = (f"POST /initiate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
             f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nx").encode()
    for i in range(STALLED):
        try:
            s = connect(f"127.0.0.{40 + i // 8}", port)
            s.sendall(stall)
            held.append(s)
        except OSError:
            pass
    return held


def get(port):
    """One GET / on a fresh connection; seconds, or None when it failed."""
    t = time.perf_counter()
    try:
        s = connect("127.0.0.1", port)
        s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        return time.perf_counter() - t if data.startswith(b"HTTP/1.1 200") else None
    except OSError:
        return None


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    args = sys.argv[1:]
    print(f"\npage / for one client while {IDLE} idle sockets and {STALLED} stalled uploads are held"
          f" ({REQUESTS} requests, new connection each)")
    print(f"{'':18}{'p50':>10}{'p99':>10}{'failed':>10}")
    for name, port in zip(args[::2], map(int, args[1::2])):
        held = hold(port)
        times, failed = [], 0
        deadline = time.monotonic() + 60
        for _ in range(REQUESTS):
            if time.monotonic() > deadline:
                failed += 1
                continue
            t = get(port)
            if t is None:
                failed += 1
            else:
                times.append(t)
        for s in held:
            s.close()
        times.sort()
        q = lambda p: f"{times[min(len(times) - 1, int(p * len(times)))] * 1000:.2f}ms" if times else "-"
        print(f"{name:18}{q(0.5):>10}{q(0.99):>10}{failed:>10}")


main()
