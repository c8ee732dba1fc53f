"""The embedded default: a project-local PostgreSQL + PostGIS cluster.

With no ``DATABASE_URL`` the project runs its own server from Debian's packages, with
its data, Unix socket and log under ``STATIONS_DB_DATA_DIR`` (``./.data/pg``) and a free
loopback port. PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user. Everything here is synchronous: it runs from the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from stations.errors import SetupError
from stations.settings import DatabaseSettings

SUPERUSER = "postgres"
SERVER_USER_WHEN_ROOT = "postgres"
DEBIAN_PACKAGES = ("postgresql", "postgresql-15-postgis-3")
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; keep room for ".s.PGSQL.<port>"


def say(message: str) -> None:
    """Progress for the person at the terminal (the CLI's only output channel here)."""
    print(f"[db] {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    """Where the cluster's pieces live for one data directory."""

    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "cluster"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def meta_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def socket_dir(self) -> Path:
        preferred = self.root / "run"
        if len(str(preferred)) + len("/.s.PGSQL.65535") <= _SOCKET_PATH_MAX:
            return preferred
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        return Path("/tmp") / f"love-stations-{digest}"

    @property
    def pid_file(self) -> Path:
        return self.pgdata / "postmaster.pid"

    @property
    def conf_file(self) -> Path:
        return self.pgdata / "love_stations.conf"


def layout(db: DatabaseSettings) -> Layout:
    return Layout(db.data_dir.resolve())


def read_meta(lay: Layout) -> dict:
    try:
        return json.loads(lay.meta_file.read_text())
    except FileNotFoundError:
        return {}


def local_dsn(db: DatabaseSettings, *, database: str) -> str:
    """DSN for the embedded cluster over its Unix socket."""
    lay = layout(db)
    meta = read_meta(lay)
    if "port" not in meta:
        from stations.errors import DatabaseUnavailable

        raise DatabaseUnavailable(
            f"the project's database has not been created yet ({lay.root}); "
            "run `stations db up` (or `make run`), or set DATABASE_URL"
        )
    return f"postgresql://{SUPERUSER}@/{database}?host={meta['socket_dir']}&port={meta['port']}"


# --- binaries -----------------------------------------------------------------------


def _postgis_installed(version: str) -> bool:
    return any(Path(f"/usr/share/postgresql/{version}/extension").glob("postgis.control"))


def find_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL whose PostGIS extension is installed."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    for pg_ctl in candidates:
        if _postgis_installed(pg_ctl.parent.parent.name):
            return pg_ctl.parent
    return None


def install_command() -> str:
    return "apt-get install -y " + " ".join(DEBIAN_PACKAGES)


def ensure_packages() -> Path:
    """Find PostgreSQL + PostGIS; install them from Debian's packages when root."""
    bin_dir = find_bin_dir()
    if bin_dir is not None:
        return bin_dir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SetupError(
            "PostgreSQL with PostGIS is not installed. Install it with:\n"
            f"    sudo apt-get update && sudo {install_command()}\n"
            "or point DATABASE_URL at an existing PostGIS (>= 3) database."
        )
    say(f"installing {' '.join(DEBIAN_PACKAGES)} from Debian's packages")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", *DEBIAN_PACKAGES], env=env, check=False
    )
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", *DEBIAN_PACKAGES], env=env, check=False)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SetupError(
            f"installing {' '.join(DEBIAN_PACKAGES)} did not provide pg_ctl and PostGIS; "
            f"check apt's output above and run `{install_command()}` by hand"
        )
    return bin_dir


# --- users and permissions -----------------------------------------------------------


def _server_user() -> str | None:
    """The system user the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER_WHEN_ROOT)
    except KeyError as exc:
        raise SetupError(
            f"running as root, but there is no '{SERVER_USER_WHEN_ROOT}' system user to run "
            "PostgreSQL as; it comes with Debian's postgresql package "
            f"(`{install_command()}`)"
        ) from exc
    return SERVER_USER_WHEN_ROOT


def _as_server_user(cmd: list[str]) -> list[str]:
    user = _server_user()
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def _chown_to_server_user(path: Path) -> None:
    user = _server_user()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _grant_traverse(path: Path) -> None:
    """Let the server user reach ``path``: add o+x to ancestors that lack it (root only)."""
    if _server_user() is None:
        return
    for ancestor in reversed(path.parents):
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            say(
                f"granting others traverse permission (o+x) on {ancestor} so the "
                f"'{SERVER_USER_WHEN_ROOT}' user can reach the cluster"
            )
            os.chmod(ancestor, mode | stat.S_IXOTH)


# --- ports and processes -------------------------------------------------------------


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postgres(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"postgres" in cmdline


def running_pid(lay: Layout) -> int | None:
    """The server's pid if it runs; a stale pid file is removed with a message."""
    try:
        first_line = lay.pid_file.read_text().splitlines()[0]
        pid = int(first_line)
    except FileNotFoundError:
        return None
    except (ValueError, IndexError):
        say(f"removing an unreadable pid file {lay.pid_file}")
        lay.pid_file.unlink(missing_ok=True)
        return None
    if _pid_alive(pid) and _is_postgres(pid):
        return pid
    say(
        f"removing stale pid file {lay.pid_file}: process {pid} is not a running PostgreSQL "
        "(the server was probably killed or the machine restarted)"
    )
    lay.pid_file.unlink(missing_ok=True)
    return None


# --- lifecycle -----------------------------------------------------------------------


def _write_conf(lay: Layout, port: int) -> None:
    lay.conf_file.write_text(
        "# Written by `stations db up`; edit STATIONS_DB_* settings instead.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{lay.socket_dir}'\n"
        "max_connections = 300\n"
        "shared_buffers = '512MB'\n"
        "work_mem = '32MB'\n"
        "maintenance_work_mem = '512MB'\n"
        "max_wal_size = '4GB'\n"
        "checkpoint_timeout = '15min'\n"
        # Streaming replication (`stations db replica up`): a standby clones this
        # cluster and follows its WAL through a replication slot; the slot keeps at most
        # this much WAL for a standby that is away. hot_standby lets a standby answer
        # reads; its feedback keeps VACUUM on the primary from cancelling them.
        "wal_level = replica\n"
        "max_wal_senders = 10\n"
        "max_replication_slots = 10\n"
        "max_slot_wal_keep_size = '4GB'\n"
        "hot_standby = on\n"
        "hot_standby_feedback = on\n"
        "timezone = 'UTC'\n"
        "log_timezone = 'UTC'\n"
        "lc_messages = 'C.UTF-8'\n"
        "log_min_messages = 'warning'\n"
    )
    _chown_to_server_user(lay.conf_file)


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SetupError(f"{what} failed:\n{result.stdout}{result.stderr}".rstrip())
    return result


def initialise(lay: Layout, bin_dir: Path) -> None:
    """Create the cluster directory with initdb (UTF-8, C.UTF-8 collation)."""
    lay.root.mkdir(parents=True, exist_ok=True)
    _grant_traverse(lay.root)
    os.chmod(lay.root, 0o755)
    password = secrets.token_urlsafe(24)
    lay.password_file.write_text(password + "\n")
    os.chmod(lay.password_file, 0o600)
    pwfile = lay.root / ".initdb-pw"
    pwfile.write_text(password + "\n")
    _chown_to_server_user(pwfile)
    lay.pgdata.mkdir(mode=0o700, exist_ok=True)
    _chown_to_server_user(lay.pgdata)
    say(f"creating a PostgreSQL cluster in {lay.pgdata}")
    try:
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(lay.pgdata),
                    f"--username={SUPERUSER}",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with (lay.pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude_if_exists = 'love_stations.conf'\n")
    allow_replication(lay)


REPLICATION_ROLE = "stations_replication"
"""The role a standby of the project-local cluster streams its WAL as."""
_HBA_REPLICATION = f"local replication {REPLICATION_ROLE} trust"


def allow_replication(lay: Layout) -> bool:
    """Let the replication role stream over the cluster's Unix socket; True when added.

    Only over the socket in the data directory, which only this machine's users who can
    reach that directory can open.
    """
    hba = lay.pgdata / "pg_hba.conf"
    text = hba.read_text()
    if any(line.strip() == _HBA_REPLICATION for line in text.splitlines()):
        return False
    # First match wins: put it before the lines initdb wrote.
    hba.write_text(
        "# Written by `stations db up`: standbys of `stations db replica up`.\n"
        f"{_HBA_REPLICATION}\n\n{text}"
    )
    return True


def start(db: DatabaseSettings) -> dict:
    """Start the cluster (creating it first if needed); a no-op when it already runs."""
    lay = layout(db)
    bin_dir = ensure_packages()
    if not (lay.pgdata / "PG_VERSION").exists():
        initialise(lay, bin_dir)
    meta = read_meta(lay)
    pid = running_pid(lay)
    if pid is not None and meta.get("port"):
        say(f"already running (pid {pid}, port {meta['port']}, socket {meta['socket_dir']})")
        return meta
    port = int(meta.get("port") or 0)
    if not port:
        port = _free_port()
    elif not _port_is_free(port):
        new_port = _free_port()
        say(f"port {port} is in use by another program; moving the cluster to port {new_port}")
        port = new_port
    socket_dir = lay.socket_dir
    socket_dir.mkdir(parents=True, exist_ok=True)
    _chown_to_server_user(socket_dir)
    _write_conf(lay, port)
    meta = {"port": port, "socket_dir": str(socket_dir), "bin_dir": str(bin_dir)}
    lay.log_file.touch(exist_ok=True)
    _chown_to_server_user(lay.log_file)
    result = subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(lay.pgdata),
                "-l",
                str(lay.log_file),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(lay.log_file.read_text(errors="replace").splitlines()[-15:])
        said = result.stderr.strip() or result.stdout.strip()
        raise SetupError(
            f"PostgreSQL did not start (pg_ctl said: {said})."
            f"\nLast lines of {lay.log_file}:\n{tail}"
        )
    lay.meta_file.write_text(json.dumps(meta, indent=2) + "\n")
    say(f"started on port {port}, socket {socket_dir}")
    return meta


def stop(db: DatabaseSettings) -> bool:
    """Stop the cluster cleanly (fast shutdown); False when it was not running."""
    lay = layout(db)
    pid = running_pid(lay)
    if pid is None:
        say("not running")
        return False
    meta = read_meta(lay)
    bin_dir = Path(meta.get("bin_dir") or ensure_packages())
    result = subprocess.run(
        _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(lay.pgdata), "-m", "fast", "-w", "-t", "60", "stop"]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        say(f"pg_ctl stop failed ({result.stderr.strip()}); sending SIGTERM to {pid}")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    say("stopped")
    return True


def status(db: DatabaseSettings) -> dict:
    """What a person needs to know about the cluster, without changing anything."""
    lay = layout(db)
    meta = read_meta(lay)
    initialised = (lay.pgdata / "PG_VERSION").exists()
    pid = running_pid(lay) if initialised else None
    return {
        "data_dir": str(lay.root),
        "initialised": initialised,
        "running": pid is not None,
        "pid": pid,
        "port": meta.get("port"),
        "socket_dir": meta.get("socket_dir"),
        "log_file": str(lay.log_file),
    }
