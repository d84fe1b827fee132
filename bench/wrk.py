"""Running wrk in its own process and reading its report."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios import Scenario

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Result:
    """What one wrk run measured."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def available() -> bool:
    """Whether wrk is installed (Debian package `wrk`)."""
    return shutil.which("wrk") is not None


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not match:
        raise ValueError(f"unreadable latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> Result:
    """Read the summary of `wrk --latency`."""
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s))\s*$", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Result(
        requests=requests,
        rps=rps,
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run(base_url: str, scenario: Scenario, *, seconds: int, connections: int) -> Result:
    """Load `base_url` with `scenario` for `seconds` from `connections` connections."""
    threads = max(1, min(2, connections))
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "scenario.lua"
        script.write_text(scenario.lua(nonce=secrets.token_hex(6)))
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                str(script),
                base_url + scenario.path,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    return parse(completed.stdout)
