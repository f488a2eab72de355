"""Joining or starting a Ray cluster, and sizing the pool of actors that hold the model.

`--ray auto` starts a fresh local instance (never Ray's own "auto", which joins whatever cluster
/tmp/ray/ray_current_cluster names, even one a killed run left behind); `--ray HOST:PORT` joins a
running cluster, after checking that its port answers as a Ray head's gRPC port does (below), so that a
wrong address fails in seconds instead of Ray's retrying for minutes.
"""
from __future__ import annotations

import contextlib
import logging
import operator
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from vidcolor.errors import UsageError

CONNECT_TIMEOUT_S = 5.0


@dataclass
class RayOptions:
    address: str | None = "auto"  # "auto": start a local instance; "HOST:PORT": join; None: the caller's ray.init
    device: str = "auto"  # auto: GPU actors where the cluster has GPUs; cpu; cuda
    cpus_per_worker: int = 1  # CPUs (and torch threads) of each CPU actor
    max_workers: int | None = None  # at most this many actors (default: as many as the cluster fits)
    num_cpus: int | None = None  # CPUs of the local instance `auto` starts (default: all)

    def __post_init__(self) -> None:  # the address's form, checked before anything else (no cluster is asked)
        if self.address is not None and not isinstance(self.address, str):
            raise ClusterError(f"RayOptions(address={self.address!r}): give 'auto', 'HOST:PORT' or None")
        # the counts and the device here, not once the model is loaded and the cluster joined: cpus_per_worker=0
        # ended such a run in ZeroDivisionError, and max_workers=0 ran every worker the cluster had without a word
        for name in ("cpus_per_worker", "max_workers", "num_cpus"):
            value = getattr(self, name)
            if value is None and name != "cpus_per_worker":
                continue
            count = _whole(value)
            if count is None or count < 1:
                raise ClusterError(f"RayOptions({name}={value!r}): a whole number of 1 or more"
                                   + (", or None" if name != "cpus_per_worker" else ""))
            setattr(self, name, count)  # a numpy count (np.int64(4), from a computation) as the int Ray takes
        _check_device(self.device)
        if self.address is not None and self.address != "auto":
            if not self.address.strip():  # `--ray "$RAY_HEAD"` with the variable unset had run on one machine
                raise ClusterError("--ray '': empty; give auto or HOST:PORT")
            _, port = _host_port(self.address)
            if not 1 <= int(port) <= 65535:
                raise ClusterError(f"--ray {self.address}: port {port} is not 1 to 65535")


def _whole(value) -> int | None:
    """An integer count as an int (numpy's included), or None for anything else: a bool, a float, a string."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


class ClusterError(UsageError):
    """--ray cannot be used: the ray extra is missing, the cluster cannot be reached or has no room for a worker."""


def import_ray():
    """The ray module, or ClusterError naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the `ray[data]` part: pandas, pyarrow)
    except ImportError as e:
        raise ClusterError(f"--ray needs the ray extra: pip install 'vidcolor[ray]' ({e})") from None
    return ray


@dataclass(frozen=True)
class Pool:
    """How many model-holding actors to run, and what each one reserves."""

    size: int
    num_cpus: int
    num_gpus: int

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus else "cpu"


def plan_pool(resources: dict, device: str = "auto", cpus_per_worker: int = 1, max_workers: int | None = None) -> Pool:
    """GPU actors (one GPU and that GPU's share of the CPUs each) where the cluster has GPUs and `device`
    allows them, CPU actors of `cpus_per_worker` CPUs otherwise. Ray assigns the GPUs, so a numbered
    device (cuda:1) is refused."""
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    _check_device(device)
    if device == "cuda" and not gpus:
        raise ClusterError("--device cuda: the Ray cluster has no GPUs")
    if gpus and device != "cpu":
        return Pool(min(gpus, max_workers or gpus), cpus // gpus, 1)
    if cpus < cpus_per_worker:
        raise ClusterError(f"the Ray cluster has {cpus} CPUs: not enough for one worker of {cpus_per_worker}")
    size = cpus // cpus_per_worker
    return Pool(min(size, max_workers or size), cpus_per_worker, 0)


def _check_device(device: str) -> None:
    if not isinstance(device, str) or device not in ("auto", "cpu", "cuda"):
        raise ClusterError(f"--device {device}: with --ray, Ray assigns the GPUs; use auto, cpu or cuda")


def _host_port(address: str) -> tuple[str, str]:
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray {address}: not HOST:PORT (or auto to start a local Ray instance)")
    if host.startswith("[") and host.endswith("]"):  # an IPv6 head, [::1]:6379 as Ray writes it (and takes it)
        host = host[1:-1]
    return host, port


_LOG_LEVEL_OURS = False  # whether RAY_BACKEND_LOG_LEVEL was set by `connect`, not by the user


# A Ray head's GCS port (and a Ray Client port, ray://) is a gRPC server: HTTP/2 without TLS, which answers a
# client's connection preface with a SETTINGS frame (9-byte header, type 4). Anything else listening there (the
# dashboard's 8265, an HTTP or Redis server) kept ray.init retrying for over a minute, printing Ray's core
# warnings, before it failed (an operator's test: `--ray 127.0.0.1:PORT` of an HTTP server was still running
# when `timeout 60` stopped it).
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")  # + an empty SETTINGS frame
H2_SETTINGS = 4


def _check_reachable(address: str) -> None:
    host, port = _host_port(address)
    try:
        conn = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S)
    except socket.timeout:  # a host that drops the connection attempt (a firewall, a wrong subnet)
        raise ClusterError(f"--ray {address}: no Ray cluster answers there (no connection in {CONNECT_TIMEOUT_S:g} s)") from None
    except OSError as e:
        raise ClusterError(f"--ray {address}: no Ray cluster answers there ({e.strerror or e})") from None
    with conn:
        if _ray_uses_tls():  # a TLS cluster wants a TLS handshake first: the port being open is all we check
            return
        try:
            conn.sendall(H2_PREFACE)
            head = _read_upto(conn, 9)
        except socket.timeout:
            raise ClusterError(f"--ray {address}: no Ray cluster answers there (a connection opened, but nothing "
                               f"answered in {CONNECT_TIMEOUT_S:g} s)") from None
        except OSError as e:
            raise ClusterError(f"--ray {address}: no Ray cluster answers there ({e.strerror or e})") from None
    if len(head) < 9 or head[3] != H2_SETTINGS:
        raise ClusterError(f"--ray {address}: something listens there, but not a Ray cluster (it does not speak gRPC); "
                           "give the head's GCS port, the --port of `ray start --head` (6379 by default)")


def _ray_uses_tls() -> bool:
    return os.environ.get("RAY_USE_TLS", "0").strip().lower() not in ("", "0", "false")


def _read_upto(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:  # closed: what an HTTP/1 server does after its "400 Bad Request"
            break
        data += chunk
    return data


def _check_connected(ray) -> None:
    if not ray.is_initialized():
        raise ClusterError("no Ray connection: pass an address, or auto to start a local instance")


def preflight(address: str | None, device: str = "auto") -> None:
    """The checks that need no cluster and no model, so that a bad --ray or --device fails before either loads."""
    _check_device(device)
    if address is None:  # the caller's own ray.init: it had loaded the model, then said there was none (5.8 s)
        _check_connected(import_ray())
        return
    if address != "auto":
        _host_port(address)
    import_ray()
    if address != "auto":
        _check_reachable(address)


def quiet_ray_data(ray) -> None:
    """vidcolor reports each input itself; Ray Data's progress bars and execution logs would interleave with it."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # its advice to raise the concurrency of a pool that got fewer inputs than actors (a small folder):
    # the pool is sized to the cluster on purpose, and the warning broke the one-line-per-file output
    warnings.filterwarnings("ignore", message=r"The minimum number of concurrent actors", category=UserWarning,
                            module=r"ray\.data\..*")


ANSI = re.compile(r"\x1b\[[0-9;]*m")
OWN_STOP_NOTICE = "killed by ray.kill"  # what a stopping run's own shutdown of its actors makes Ray say
# (Ray 2.60 quotes the name, "killed by `ray.kill`", so lines are compared without backticks: the quoted
# form went through to a Ctrl-C'd run's log, an operator's test)
INIT_FAILED_NOTICE = "raised in its creation task"  # a worker that could not start: rows_of says why, in one line
ERROR_LINE = re.compile(r"^\s*([\w.]*(?:Error|Exception)): (.+)$", re.M)  # "pkg.mod.SomeError: message" in a traceback


def rows_of(ds) -> Iterator[dict]:
    """`ds.iter_rows()`, where a worker that cannot start (its constructor raised: another vidcolor on its node,
    which the model check refuses, or no torch there) is one ClusterError naming the reason: it was Ray's
    ActorDiedError, a 350-line traceback and exit 1 (an operator's test)."""
    ray_data_log = logging.getLogger("ray.data")
    level = ray_data_log.level
    ray_data_log.setLevel(logging.CRITICAL)  # its "Full stack trace" of the same error, 80 lines, before ours
    try:
        yield from ds.iter_rows()
    except Exception as e:
        if not getattr(e, "actor_init_failed", False):
            raise
        found = ERROR_LINE.findall(ANSI.sub("", str(e)))
        name, reason = found[-1] if found else ("", str(e).splitlines()[0] if str(e) else type(e).__name__)
        if name and not name.startswith("vidcolor."):
            reason = f"{name.rsplit('.', 1)[-1]}: {reason}"
        raise ClusterError(f"a Ray worker could not start: {reason}") from None
    finally:
        ray_data_log.setLevel(level)


@contextmanager
def _plain_raylet_notices() -> Iterator[None]:
    """While vidcolor's own connection runs: Ray's driver prints the cluster's error notices to stdout in
    terminal colours; a SIGTERM'd run put "(raylet) Task MapWorker(...) failed ... killed by ray.kill", its
    own doing, into the cron log (an operator's test). That one is dropped; the others (out of memory, no
    node for the resources asked) are written to stderr as plain "(raylet) ..." lines. Ray's private
    function: where it is missing, nothing changes; it is put back afterwards."""
    try:
        import ray._private.worker as ray_worker
    except ImportError:
        yield
        return
    real = getattr(ray_worker, "print_to_stdstream", None)
    if real is None:
        yield
        return

    def print_to_stdstream(data, ignore_prefix, *args, **kwargs):
        if not (isinstance(data, dict) and data.get("pid") == "raylet"):
            return real(data, ignore_prefix, *args, **kwargs)
        for line in data.get("lines") or []:
            if not any(notice in str(line).replace("`", "") for notice in (OWN_STOP_NOTICE, INIT_FAILED_NOTICE)):
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write(f"(raylet) {ANSI.sub('', str(line)).rstrip()}\n")
        return None

    ray_worker.print_to_stdstream = print_to_stdstream
    try:
        yield
    finally:
        ray_worker.print_to_stdstream = real


GLOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,.]+ [IW] \d+ \d+\] \S+\.cc:\d+:")  # Ray's C++ core, info and warnings: [date time W pid tid] file.cc:N:


@contextmanager
def _without_the_log_level_line(drop_core_notices: bool = True) -> Iterator[None]:
    """Ray's core writes "logging.cc: Set ray log level from environment variable RAY_BACKEND_LOG_LEVEL"
    to stderr during ray.init whenever that variable is set, which is how its other notices are kept
    out (below): file descriptor 2 goes to a temporary file while ray.init runs, and everything else
    written there is passed on afterwards; where ray.init fails and `drop_core_notices`, without its C++ core's
    info and warning lines (a join refused for want of a token printed one a second for 20 s before vidcolor's
    line saying why: an operator's test; its errors are kept).
    (Processes Ray starts meanwhile inherit the temporary file; its daemons write their output to Ray's log files.)"""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            rest = [ln for ln in tmp.read().decode("utf-8", errors="replace").splitlines(keepends=True)
                    if "RAY_BACKEND_LOG_LEVEL" not in ln and not (failed and drop_core_notices and GLOG_LINE.match(ln))]
            if rest:
                sys.stderr.write("".join(rest))
                sys.stderr.flush()


@contextmanager
def connect(address: str | None, num_cpus: int | None = None) -> Iterator[object]:
    """Yield the connected ray module; disconnect at the end (a local instance it started shuts down).

    `address` is "auto" (start a local instance with `num_cpus`, default all), "HOST:PORT" or
    "ray://HOST:PORT" (join), or None to use a connection the caller has already made with ray.init."""
    ray = import_ray()
    if address is None:
        _check_connected(ray)
        quiet_ray_data(ray)
        yield ray
        return
    if ray.is_initialized():
        raise ClusterError("this process is already connected to Ray; pass address=None to use that connection")
    if address != "auto":
        _check_reachable(address)
    # Ray's own notices (token authentication, the core worker's remarks on actor arguments) would break
    # the one-line-per-file output; RAY_BACKEND_LOG_LEVEL=info in the environment brings them back.
    global _LOG_LEVEL_OURS  # RAY_BACKEND_LOG_LEVEL=info: every core line, as asked; the "fatal" set here stays in the
    if "RAY_BACKEND_LOG_LEVEL" not in os.environ:  # environment, so a second connection must not take it for the user's
        os.environ["RAY_BACKEND_LOG_LEVEL"], _LOG_LEVEL_OURS = "fatal", True  # (a review)
    ours = _LOG_LEVEL_OURS and os.environ["RAY_BACKEND_LOG_LEVEL"] == "fatal"

    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with _without_the_log_level_line(drop_core_notices=ours):
            if address == "auto":
                # Ray nices its workers to 15 so that its daemons stay responsive on a shared node; here the
                # workers are the work, and a one-machine vidcolor run is not niced either
                ray.init(address="local", num_cpus=num_cpus, _system_config={"worker_niceness": 0}, **kwargs)
            else:
                ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError, OSError) as e:  # OSError: a read-only HOME (Ray's token file)
        hint = ""
        if address != "auto" and "RAY_AUTH_MODE" not in os.environ:
            hint = "; a cluster made with `ray start` wants its token: set RAY_AUTH_MODE=token"
        raise ClusterError(f"--ray {address}: cannot start or join Ray ({str(e).splitlines()[0][:200]}{hint})") from e
    # Ray's core worker installs Abseil's failure-signal handler for SIGTERM at the C level: SIGTERM (what
    # cron, systemd and `timeout` send) then aborted the driver with a stack dump and exit 134, before the
    # journal, the report's summary and the film's done list were written, and finished work was redone.
    # The handler in place before ray.init (the CLI's: an orderly stop, exit 143) goes back in.
    if on_sigterm is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    session = _session_dir(ray) if address == "auto" else None
    # Ray's printer is put back only after the shutdown: the notice of the actors' end arrives during it (a review)
    with _plain_raylet_notices():
        try:
            quiet_ray_data(ray)
            yield ray
        except BaseException:
            session = None  # a run that failed keeps Ray's logs, for whoever looks into it
            raise
        finally:
            ray.shutdown()
            if session is not None:
                _remove_session(session)


def _session_dir(ray) -> Path | None:
    """The session folder (logs, sockets) of the local instance this process started, if Ray says."""
    try:
        return Path(ray._private.worker._global_node.get_session_dir_path())
    except (AttributeError, TypeError):  # another Ray version's internals: the folder is left, as before
        return None


def _remove_session(session: Path) -> None:
    """Remove a finished local instance's session folder (about 0.7 MB each here), and Ray's
    session_latest link where it points there: each `--ray auto` run left one in /tmp/ray, so a nightly
    or hourly job filled it for good. A run joining a cluster leaves the cluster's folders alone."""
    latest = session.parent / "session_latest"
    try:
        if latest.is_symlink() and Path(os.path.realpath(latest)) == Path(os.path.realpath(session)):
            latest.unlink()
    except OSError:
        pass
    shutil.rmtree(session, ignore_errors=True)

