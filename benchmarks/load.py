"""The load generators: wrk for plain request floods, a small asyncio driver for flows with
state; both report the CPU they ate themselves, so a driver that saturates a core (and so
bounds what it measures) is seen as such.
"""

from __future__ import annotations

import asyncio
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

WRK = shutil.which("wrk")
CONNECTIONS = 32
SECONDS = 10
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Measured:
    """One row's figures: throughput, latencies (ms), statuses, and whose CPU it cost."""

    tool: str
    requests: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    driver_cpu: float = 0.0  # cores the load generator used, on average
    platform_cpu: float = 0.0  # cores the platform's processes used, on average

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summarise(self) -> Measured:
        if self.latencies_ms:
            cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
            self.p50_ms, self.p99_ms = cuts[49], cuts[98]
        return self


class CpuMeter:
    """CPU seconds of a set of processes, read before and after a row."""

    def __init__(self, processes: Iterable[psutil.Process]) -> None:
        self.processes = list(processes)
        self.start = self._total()
        self.started = time.monotonic()

    def _total(self) -> float:
        total = 0.0
        for proc in self.processes:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def cores(self) -> float:
        return (self._total() - self.start) / max(time.monotonic() - self.started, 1e-9)


async def cores_used(processes: Iterable[psutil.Process], *, seconds: float) -> float:
    """How many cores ``processes`` used over the next ``seconds``."""
    meter = CpuMeter(processes)
    await asyncio.sleep(seconds)
    return meter.cores()


def wrk(
    url: str,
    *,
    processes: Iterable[psutil.Process],
    method: str = "GET",
    body: str | None = None,
    cookie: str | None = None,
    seconds: int = SECONDS,
) -> Measured:
    """``wrk -t2 -c32 --latency`` against ``url``; its CPU from the kernel's child usage."""
    assert WRK is not None
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = [[{body}]]", 'wrk.headers["Content-Type"] = "application/json"']
    if cookie is not None:
        lines.append(f'wrk.headers["Cookie"] = "session={cookie}"')
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    meter = CpuMeter(processes)
    argv = [WRK, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", script.name, url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    platform_cpu = meter.cores()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(script.name).unlink()
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(non_2xx[1]) if non_2xx else 0
    measured = Measured("wrk", total, float(seconds), driver_cpu=used / seconds)
    measured.statuses.update({200: total - errors, 0: errors})
    measured.platform_cpu = platform_cpu
    measured.p50_ms = _percentile(output, "50")
    measured.p99_ms = _percentile(output, "99")
    return measured


def _percentile(output: str, which: str) -> float:
    found = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    assert found is not None, output
    return float(found[1]) * _UNITS[found[2]]


Call = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def drive(
    client: httpx.AsyncClient,
    call: Call,
    *,
    count: int,
    concurrency: int,
    processes: Iterable[psutil.Process],
) -> Measured:
    """``call(client, i)`` for i in 0..count-1, ``concurrency`` at a time, each timed."""
    measured = Measured("asyncio+httpx", count, 0.0)
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            try:
                status = (await call(client, i)).status_code
            except httpx.TransportError:
                status = 0  # no answer (reset, refused, timed out): counted, not raised
            measured.latencies_ms.append((time.perf_counter() - started) * 1000)
            measured.statuses[status] += 1

    cpu, meter, started = time.process_time(), CpuMeter(processes), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    measured.seconds = time.perf_counter() - started
    measured.driver_cpu = (time.process_time() - cpu) / measured.seconds
    measured.platform_cpu = meter.cores()
    return measured.summarise()
