"""The wheel works on its own: installed outside the checkout, run from ``/``.

``pip wheel .`` builds the wheel from a copy of the source (an in-tree build would
leave ``build/`` behind, and files it still holds from an earlier build could slip into
the wheel). It is installed into a new virtualenv in a temporary folder; that
virtualenv reaches the project's already-installed dependencies through a ``.pth``
line naming the project's site-packages (one directory on ``sys.path``: the ``.pth``
files inside it, among them the editable install of this project, are not run), so
the test proves the wheel's own files are used without downloading anything. Then,
from ``/``, with the cluster's data in the temporary folder: ``stations db up``,
``stations demo --city huaibei``, ``stations serve``; the rider page, the coverage map
and nearest must answer. The server and the cluster are stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Not needed to build the wheel, and some are large or belong to this machine.
_NOT_SOURCE = {
    ".git",
    ".venv",
    ".data",
    "build",
    "dist",
    "artifacts",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".pytest-tmp",
    ".ruff_cache",
    ".mypy_cache",
}
HUAIBEI = {"lat": 33.9556, "lng": 116.7983}


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _NOT_SOURCE or n.endswith(".egg-info")}


def _run(cmd: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited with {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    """A temporary folder outside the checkout, readable by the cluster's server user."""
    folder = Path(tempfile.mkdtemp(prefix="love-stations-wheel-"))
    assert not folder.is_relative_to(ROOT)
    # As root the cluster runs as the postgres user, which must reach its data in here.
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def venv(work: Path) -> Path:
    """A new virtualenv with the wheel installed, and the project's dependencies reachable."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_ignore)
    dist = work / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", str(source), "-w", str(dist), "--no-deps", "-q"],
        timeout=600,
    )
    (wheel,) = dist.glob("love_stations-*.whl")
    env_dir = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], timeout=120)
    python = env_dir / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            timeout=60,
        ).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "project_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    _run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install"),
            *("--no-deps", "--no-index", "-q", str(wheel)),
        ],
        timeout=300,
    )
    return env_dir


def _environment(venv: Path, work: Path, token: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STATIONS_")
        and k not in ("DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        STATIONS_DB_DATA_DIR=str(work / "pg"),
        STATIONS_ENVIRONMENT="development",
        STATIONS_ADMIN_TOKEN=token,
    )
    return env


def test_the_installed_wheel_runs_from_any_folder(venv: Path, work: Path) -> None:
    token = f"wheel-test-{secrets.token_urlsafe(16)}"
    env = _environment(venv, work, token)
    stations = str(venv / "bin" / "stations")
    site = (
        _run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import api, maps, stations, web; "
                "print('\\n'.join(m.__file__ for m in (api, maps, stations, web)))",
            ],
            timeout=60,
            cwd="/",
            env=env,
        )
        .stdout.strip()
        .splitlines()
    )
    assert len(site) == 4
    for module_file in site:
        assert Path(module_file).is_relative_to(venv), f"{module_file} is not the wheel's"

    port = _free_port()
    server: subprocess.Popen[bytes] | None = None
    log = work / "serve.log"
    try:
        _run([stations, "db", "up"], timeout=300, cwd="/", env=env)
        assert (work / "pg" / "cluster" / "PG_VERSION").is_file()
        demo = _run([stations, "demo", "--city", "huaibei"], timeout=900, cwd="/", env=env)
        assert "loaded into the catalog" in demo.stdout
        # The national demo's divisions file is package data too.
        national = _run(
            [stations, "demo", "--national", "--scale", "0.002", "--dry-run"],
            timeout=300,
            cwd="/",
            env=env,
        )
        assert "would load into the catalog (source demo-national)" in national.stdout
        with log.open("wb") as out:
            server = subprocess.Popen(
                [stations, "serve", "--port", str(port)],
                cwd="/",
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as http:
            _wait_until_ready(http, server, log)

            page = http.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 200, page.text
            config = re.search(
                r'<script type="application/json" id="config">(.*?)</script>', page.text, re.S
            )
            assert config, "the rider page carries its config"
            assert json.loads(config.group(1))["speeds"] == {"walk_kmh": 4.5, "ebike_kmh": 15.0}
            script = re.search(r'src="(/web/[^"]+\.js\?v=[0-9a-f]+)"', page.text)
            assert script, page.text[:500]
            assert http.get(script.group(1)).status_code == 200
            leaflet = http.get("/static/maps/vendor/leaflet-1.9.3/leaflet.js")
            assert leaflet.status_code == 200 and "Leaflet" in leaflet.text[:300]

            refused = http.get("/maps/coverage", params={"city": "huaibei"})
            assert refused.status_code == 401
            coverage = http.get(
                "/maps/coverage",
                params={"city": "huaibei"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert coverage.status_code == 200, coverage.text[:500]
            assert coverage.headers["content-type"].startswith("text/html")
            assert "/static/maps/vendor/leaflet-1.9.3/leaflet.js" in coverage.text
            assert "folium-map" in coverage.text

            nearest = http.get("/v1/stations/nearest", params=HUAIBEI)
            assert nearest.status_code == 200, nearest.text
            results = nearest.json()["results"]
            assert len(results) == 5
            assert all(r["distance_m"] < 5_000 for r in results)
    finally:
        if server is not None:
            _stop(server)
        down = [stations, "db", "down"]
        subprocess.run(down, cwd="/", env=env, timeout=120, check=False, capture_output=True)


def _wait_until_ready(http: httpx.Client, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, f"stations serve exited:\n{log.read_text()}"
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"stations serve did not get ready in 120 s:\n{log.read_text()}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and anything it started (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
