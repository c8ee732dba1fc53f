"""Benchmark: the service under abusive requests (issue 16's "done when" figures).

    .venv/bin/python bench/abuse.py [--duration 30] [--clients 4]

1. Creates its own database on the project's cluster (``stations_bench_abuse_<pid>``)
   and loads the Huaibei demo city (``stations demo``: stations and demand).
2. Starts the server the default way (``stations serve``, one worker) with the rate of
   expensive requests lifted, so that every heavy request really runs (the limit would
   otherwise answer most of them with a cheap 429).
3. Records the server's RSS (cold, and after one request of each kind has warmed its
   caches), then lets ``--clients`` clients loop for ``--duration``
   seconds on the heaviest requests allowed — ``nearest:batch`` of 10,000 points at k=5,
   ``along-route`` of 10,000 vertices, coverage cells at res 9 over the city (one after
   the other, each client starting elsewhere in the cycle; each client a process of its
   own) — while the main process asks ``/healthz`` every 20 ms; prints the probe's p50,
   p99 and worst latency.
4. Waits 5 s after the clients stop and prints the RSS again.
5. Times how long a 50 MB body (declared, then streamed) waits for its ``413``, and
   what the server answers to a 1 MB header and to 100,000 headers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stations.db import admin as dbadmin
from stations.db import embedded
from stations.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
CITY = (33.955, 116.798)  # Huaibei
CITY_BBOX = "116.65,33.85,116.95,34.05"


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stations_command() -> str:
    local = ROOT / ".venv" / "bin" / "stations"
    return str(local) if local.exists() else "stations"


def server_env(db_name: str, port: int) -> dict[str, str]:
    env = {**os.environ, "STATIONS_DB_NAME": db_name, "STATIONS_API_PORT": str(port)}
    env.update(STATIONS_API_HEAVY_PER_MINUTE="100000", STATIONS_API_HEAVY_BURST="100000")
    env.pop("DATABASE_URL", None)
    return env


def wait_until_serving(base: str, server: subprocess.Popen, timeout: float = 300) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit("the server stopped while starting")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not start in time")


def heavy_requests(token: str) -> list[tuple[str, str, dict]]:
    lat0, lng0 = CITY
    points = [
        {"lat": lat0 + (i // 100 - 50) * 0.002, "lng": lng0 + (i % 100 - 50) * 0.002}
        for i in range(10_000)
    ]
    route = [[lng0 - 0.1 + 0.2 * i / 9_999, lat0 + 0.05 * math.sin(i / 500)] for i in range(10_000)]
    return [
        ("POST", "/v1/stations/nearest:batch", {"json": {"points": points, "k": 5}}),
        (
            "POST",
            "/v1/stations/along-route",
            {
                "json": {
                    "route": {"type": "LineString", "coordinates": route},
                    "max_detour_m": 2000,
                    "limit": 1000,
                }
            },
        ),
        ("GET", "/v1/coverage/cells", {"params": {"bbox": CITY_BBOX, "res": 9}}),
    ]


def client_loop(
    base: str, token: str, start: int, stop: Any, done: Any, only: str | None = None
) -> None:
    """One abusive client, in a process of its own: the probe's process must not wait
    for the clients' JSON encoding (the GIL) and so measure the benchmark, not the server."""
    requests = [r for r in heavy_requests(token) if only is None or only in r[1]]
    n = start
    statuses: list[tuple[str, int]] = []
    with httpx.Client(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        while not stop.is_set():
            method, path, kwargs = requests[n % len(requests)]
            response = c.request(method, path, **kwargs)
            statuses.append((path, response.status_code))
            n += 1
    done.put(statuses)


def probe(base: str, until: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as c:
        while time.perf_counter() < until:
            started = time.perf_counter()
            c.get("/healthz").raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    return latencies


def raw_status(
    port: int, head: bytes, body: bytes = b"", chunk: int = 1 << 20
) -> tuple[str, float]:
    """Send ``head`` and then ``body`` by hand; the status line and when it came."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        answer = b""

        def read() -> None:
            nonlocal answer
            with contextlib.suppress(OSError):
                answer = sock.recv(65536)

        reader = threading.Thread(target=read)
        reader.start()
        arrived = None
        try:
            sock.sendall(head)
            for at in range(0, len(body), chunk):
                if answer:
                    break
                sock.sendall(body[at : at + chunk])
        except OSError:
            pass
        reader.join(timeout=30)
        arrived = time.perf_counter() - started
    line = answer.split(b"\r\n", 1)[0].decode("latin-1") or "(connection closed)"
    return line, arrived


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--only", help="only the requests whose path holds this (batch, …)")
    args = parser.parse_args()
    settings = get_settings()
    if settings.db.embedded:
        embedded.start(settings.db)
    db_name = f"stations_bench_abuse_{os.getpid()}"
    token = settings.security.admin_token.get_secret_value()
    server = None
    try:
        asyncio.run(dbadmin.create_database(settings.db, db_name))
        asyncio.run(dbadmin.migrate(settings.db, database=db_name))
        port = free_port()
        env = server_env(db_name, port)
        subprocess.run(
            [stations_command(), "demo", "--city", "huaibei"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [stations_command(), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        wait_until_serving(base, server)
        time.sleep(2)
        rss_cold = rss_mb(server.pid)
        # One of each first: what stays is the caches of a served process (modules
        # imported on first use, the coverage region cache), not what abuse leaves.
        with httpx.Client(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
        ) as c:
            for method, path, kwargs in heavy_requests(token):
                c.request(method, path, **kwargs).raise_for_status()
        time.sleep(2)
        rss_start = rss_mb(server.pid)
        quiet = probe(base, time.perf_counter() + 5)

        processes = multiprocessing.get_context("spawn")
        stop = processes.Event()
        results = processes.Queue()
        clients = [
            processes.Process(target=client_loop, args=(base, token, i, stop, results, args.only))
            for i in range(args.clients)
        ]
        for client in clients:
            client.start()
        rss_peak = rss_start
        loaded: list[float] = []
        until = time.perf_counter() + args.duration
        while time.perf_counter() < until:
            loaded += probe(base, min(until, time.perf_counter() + 1))
            rss_peak = max(rss_peak, rss_mb(server.pid))
        stop.set()
        done: list[tuple[str, int]] = []
        for _ in clients:
            done += results.get(timeout=300)
        for client in clients:
            client.join()
        time.sleep(5)
        rss_end = rss_mb(server.pid)

        big = 50_000_000
        head = (
            b"POST /v1/auth/member HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % big
        )
        declared, declared_s = raw_status(port, head, b" " * big)
        head = (
            b"POST /v1/auth/member HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        piece = b" " * 65536
        chunked_body = (b"%x\r\n%s\r\n" % (len(piece), piece)) * (big // len(piece))
        chunked, chunked_s = raw_status(port, head, chunked_body)
        one_mb_header, _ = raw_status(
            port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2**20 + b"\r\n\r\n"
        )
        many = b"".join(b"X-H%d: 1\r\n" % i for i in range(100_000))
        many_headers, _ = raw_status(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        after = httpx.get(f"{base}/healthz", timeout=10).status_code
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        asyncio.run(dbadmin.drop_database(settings.db, db_name))

    def ms(values: list[float], q: float) -> float:
        return (
            1000 * statistics.quantiles(values, n=100)[int(q) - 1]
            if q < 100
            else 1000 * max(values)
        )

    load = os.getloadavg()
    by_path: dict[str, list[int]] = {}
    for path, status in done:
        by_path.setdefault(path, []).append(status)
    print()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
        f"{args.clients} clients for {args.duration} s"
    )
    for path, statuses in sorted(by_path.items()):
        codes = {s: statuses.count(s) for s in sorted(set(statuses))}
        print(f"  {path}: {len(statuses)} requests, statuses {codes}")
    print(
        f"/healthz quiet:  p50 {ms(quiet, 50):.1f} ms, p99 {ms(quiet, 99):.1f} ms "
        f"({len(quiet)} probes)"
    )
    print(
        f"/healthz loaded: p50 {ms(loaded, 50):.1f} ms, p99 {ms(loaded, 99):.1f} ms, "
        f"worst {ms(loaded, 100):.1f} ms ({len(loaded)} probes)"
    )
    print(
        f"RSS: cold {rss_cold:.0f} MB, after one of each {rss_start:.0f} MB, "
        f"peak {rss_peak:.0f} MB, 5 s after the clients stopped {rss_end:.0f} MB "
        f"({100 * (rss_end / rss_start - 1):+.0f} %)"
    )
    print(f"50 MB body, Content-Length declared: {declared!r} after {1000 * declared_s:.1f} ms")
    print(f"50 MB body, chunked: {chunked!r} after {1000 * chunked_s:.1f} ms")
    print(f"1 MB header: {one_mb_header!r}; 100,000 headers: {many_headers!r}")
    print(f"/healthz after all of it: {after}")
    checks = [
        ("/healthz p99 under load ≤ 100 ms", ms(loaded, 99) <= 100),
        ("RSS back within 20 % of its start", rss_end <= 1.2 * rss_start),
        ("50 MB body gets 413 in < 100 ms", declared.split()[1:2] == ["413"] and declared_s < 0.1),
    ]
    for name, ok in checks:
        print(f"  {'met' if ok else 'NOT met'}: {name}")


if __name__ == "__main__":
    main()
