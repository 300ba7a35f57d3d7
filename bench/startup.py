"""Start-up time as a new user meets it: `make run` on a fresh data dir, until /system/health says ok.

It runs what `make run` runs (`honcho run python -m api.bootstrap`, then `honcho start` on the
Procfile) in a temporary data dir on free ports, and reports how long the bootstrap took and when the
health check first answered ok; then it stops everything (as Ctrl-C does) and times the shutdown.

    .venv/bin/python -m bench.startup [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from bench.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class StartupTimes:
    bootstrap_s: float
    healthy_s: float  # from `make run`'s first command to the first ok health check
    stop_s: float


def _environ(data_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MCPS_") and k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"MCPS_APP__DATA_DIR": data_dir, "MCPS_SERVER__PORT": str(free_port()),
                "MCPS_MCP__PROXY__PORT": str(free_port()), "PATH": f"{BIN}:{env.get('PATH', '')}",
                "VIRTUAL_ENV": str(BIN.parent)})
    return env


def _wait_healthy(url: str, honcho: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and honcho.poll() is None:
        try:
            if httpx2.get(url, timeout=1).json().get("status") == "ok":
                return
        except (httpx2.HTTPError, ValueError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"not healthy within {timeout_s:g} s (honcho rc={honcho.poll()})")


def measure_startup(timeout_s: float = 60) -> StartupTimes:
    with tempfile.TemporaryDirectory(prefix="mcps-startup-") as data_dir:
        env = _environ(data_dir)
        url = f"http://127.0.0.1:{env['MCPS_SERVER__PORT']}/api/v1/system/health"
        started = time.perf_counter()
        subprocess.run([BIN / "honcho", "run", "python", "-m", "api.bootstrap"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        bootstrapped = time.perf_counter()
        honcho = subprocess.Popen([BIN / "honcho", "start"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_healthy(url, honcho, timeout_s)
            healthy = time.perf_counter()
            honcho.send_signal(signal.SIGINT)  # Ctrl-C
            honcho.wait(60)
            stopped = time.perf_counter()
        finally:
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait()
        return StartupTimes(bootstrapped - started, healthy - started, stopped - healthy)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [measure_startup() for _ in range(args.runs)]
    for run in runs:
        print(f"bootstrap {run.bootstrap_s:.2f} s, healthy after {run.healthy_s:.2f} s, stopped in {run.stop_s:.2f} s")
    print(f"start-up until healthy: median {statistics.median(r.healthy_s for r in runs):.2f} s "
          f"over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
