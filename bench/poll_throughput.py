"""Poll throughput: requests/s of vidgen's poll endpoint against a bare FastAPI endpoint.

Both run under the same uvicorn settings (one process, uvloop + httptools, no access log), are
loaded by the same tool (wrk, one thread, 32 connections) in the same run, in alternating rounds.
vidgen's poll authenticates the key, reads the job from SQLite, signs a download link and logs a
structured line; the bare endpoint returns a constant. Target: vidgen ≥ 50 % of the bare figure.

    python bench/poll_throughput.py [--seconds 10] [--connections 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

KEY = "vg_bench_key_cccccccccccccccccccccccccccccccc"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def load(url: str, seconds: int, connections: int) -> float:
    """Requests per second from wrk (or, without wrk, from a simple httpx load loop)."""
    if shutil.which("wrk"):
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "-H",
                f"Authorization: Bearer {KEY}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if non2xx:
            raise SystemExit(f"{non2xx.group(1)} failed requests:\n{out}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    import asyncio

    async def run() -> float:
        done = 0
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as client:

            async def worker() -> None:
                nonlocal done
                while time.monotonic() < deadline:
                    (await client.get(url)).raise_for_status()
                    done += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
        return done / seconds

    print(
        "(wrk not found: using the slower httpx load loop; install Debian's wrk)", file=sys.stderr
    )
    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    env = {
        **os.environ,
        "VIDGEN_DATA_DIR": str(data_dir),
        "VIDGEN_API_KEYS": KEY,
        "VIDGEN_RATE_LIMIT_PER_MINUTE": "0",
        "VIDGEN_LOG_LEVEL": "INFO",
    }
    vidgen_port, bare_port = free_port(), free_port()
    uvicorn_flags = [
        "--log-level",
        "warning",
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    vidgen = subprocess.Popen(
        [sys.executable, "-m", "vidgen.cli.main", "serve", "--port", str(vidgen_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("wb"),
    )
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(bare_port),
            *uvicorn_flags,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{vidgen_port}"
        wait_up(f"{base}/health", vidgen)
        wait_up(f"http://127.0.0.1:{bare_port}/docs", bare)
        buf = io.BytesIO()
        Image.new("RGB", (640, 360), (40, 90, 160)).save(buf, "PNG")
        image = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        headers = {"Authorization": f"Bearer {KEY}"}
        gen_id = httpx.post(
            f"{base}/v2/video/generations",
            headers=headers,
            json={"model": "runway/gen4_turbo", "image_url": image},
        ).json()["id"]
        poll_url = f"{base}/v2/video/generations?generation_id={gen_id}"
        while httpx.get(poll_url, headers=headers).json()["status"] != "completed":
            time.sleep(0.2)
        bare_url = f"http://127.0.0.1:{bare_port}/v2/video/generations?generation_id={gen_id}"
        load(bare_url, 2, args.connections)  # warm-up
        load(poll_url, 2, args.connections)
        # Rounds alternate the two servers, so that a shared machine that slows down or
        # speeds up during the run moves both sides alike; the median round is the figure.
        ratios = []
        for round_ in range(1, args.rounds + 1):
            bare_rps = load(bare_url, args.seconds, args.connections)
            vidgen_rps = load(poll_url, args.seconds, args.connections)
            ratios.append(vidgen_rps / bare_rps)
            print(
                f"round {round_}: bare FastAPI {bare_rps:7.0f} req/s  vidgen poll "
                f"{vidgen_rps:7.0f} req/s  ratio {ratios[-1]:6.1%}"
            )
        print(
            f"median ratio {statistics.median(ratios):.1%} over {len(ratios)} rounds "
            f"(min {min(ratios):.1%}, max {max(ratios):.1%}; target >= 50%)"
        )
    finally:
        for proc in (vidgen, bare):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
