"""The cluster's pieces that need no Ray: how a film is cut into ranges, how the actor pool is sized, and
what a worker does with a photo batch or a film range (run here in-process, as Ray runs it)."""
import os
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.media import write_image, write_video
from vidcolor.cluster.film import RangeWork, make_plan, scan
from vidcolor.cluster.plan import Range, plan_ranges
from vidcolor.cluster.runtime import ClusterError, plan_pool
from vidcolor.cluster.workers import PhotoBatch, colorize_range
from vidcolor.colorizer import RENDER_VERSION
from vidcolor.io.plan import plan_output
from vidcolor.io.video import VideoSource
from vidcolor.options import FolderOptions, VideoOptions
from vidcolor.pipeline import colorize_video


def test_whole_shots_are_grouped_and_a_long_shot_is_split_with_warmup():
    # shots [0, 10) [10, 20) [20, 30) [30, 100) [100, 105); ranges of at most 25 frames
    ranges = plan_ranges(105, [10, 20, 30, 100], max_frames=25, warmup=8)
    assert ranges == [Range(0, 20), Range(20, 30), Range(30, 53), Range(53, 77, 8), Range(77, 100, 8), Range(100, 105)]


def test_warmup_never_reaches_back_into_the_previous_shot():
    assert plan_ranges(30, [10], max_frames=8, warmup=16) == [
        Range(0, 5), Range(5, 10, 5), Range(10, 17), Range(17, 23, 7), Range(23, 30, 13)]


def test_a_long_shot_is_split_on_the_network_stride():
    """With the `flow` smoother's network stride of 2, a range's last frame is odd, a frame the network
    runs on one machine too (`pipeline.network_frames`)."""
    ranges = plan_ranges(105, [10, 20, 30, 100], max_frames=25, warmup=8, stride=2)
    assert ranges == [Range(0, 20), Range(20, 30), Range(30, 52), Range(52, 76, 8), Range(76, 100, 8), Range(100, 105)]
    assert plan_ranges(105, [10, 20, 30, 100], max_frames=25, warmup=8, stride=1)[2:5] == [Range(30, 53), Range(53, 77, 8), Range(77, 100, 8)]


@pytest.mark.parametrize("seed", range(5))
def test_ranges_cover_every_frame_once_and_start_mid_shot_only_with_warmup(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    cuts = sorted(set(rng.integers(1, max(2, n), int(rng.integers(0, 12))).tolist()))
    ranges = plan_ranges(n, cuts, max_frames=int(rng.integers(1, 60)), warmup=6)
    assert [r.start for r in ranges[1:]] == [r.end for r in ranges[:-1]] and ranges[0].start == 0 and ranges[-1].end == n
    for r in ranges:
        at_cut = r.start == 0 or r.start in cuts
        assert (r.warmup == 0) == at_cut
        shot_start = max([0] + [c for c in cuts if c <= r.start])
        assert r.start - r.warmup >= shot_start


def test_pool_uses_gpus_where_the_cluster_has_them():
    assert plan_pool({"CPU": 32, "GPU": 4}) == plan_pool({"CPU": 32, "GPU": 4}, "cuda")
    pool = plan_pool({"CPU": 32, "GPU": 4})
    assert (pool.size, pool.num_gpus, pool.num_cpus, pool.device) == (4, 1, 8, "cuda")
    assert plan_pool({"CPU": 32, "GPU": 4}, "cpu").device == "cpu"
    cpu = plan_pool({"CPU": 6}, cpus_per_worker=2, max_workers=2)
    assert (cpu.size, cpu.num_cpus, cpu.num_gpus, cpu.device) == (2, 2, 0, "cpu")


@pytest.mark.parametrize("resources,device", [({"CPU": 4}, "cuda"), ({"CPU": 4, "GPU": 1}, "cuda:1"), ({"CPU": 0}, "auto")])
def test_pool_refuses_what_the_cluster_cannot_do(resources, device):
    with pytest.raises(ClusterError):
        plan_pool(resources, device)


def test_a_retried_photo_batch_does_not_write_its_outputs_twice(tmp_path, colorizer):
    srcs = [write_image(tmp_path / "in" / f"{i}.png", seed=i) for i in range(3)]
    (tmp_path / "in" / "bad.png").write_text("not an image")
    batch = {"src": np.array([str(p) for p in srcs] + [str(tmp_path / "in" / "bad.png")]),
             "dst": np.array([str(tmp_path / "out" / f"{i}.png") for i in range(4)])}
    since = 0  # the run started before anything was written
    threads = torch.get_num_threads()  # an actor sets the process's torch threads; keep the suite's
    first = PhotoBatch(colorizer, FolderOptions(), since, threads=threads)(batch)
    assert first["status"] == ["failed", "done", "done", "done"] and "bad.png" in first["note"][0]
    before = {p: os.stat(p) for p in first["dst"][1:]}
    again = PhotoBatch(colorizer, FolderOptions(), since, threads=threads)(batch)  # Ray retrying the batch after its worker died
    assert sorted(again["status"]) == ["done", "done", "done", "failed"]
    assert {p: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in before} == {p: (s.st_ino, s.st_mtime_ns) for p, s in before.items()}
    later = max(s.st_mtime_ns for s in before.values()) + 1
    fresh = PhotoBatch(colorizer, FolderOptions(), later, threads=threads)(batch)  # a later run (other options, say) redoes them
    assert all(os.stat(p).st_ino != s.st_ino for p, s in before.items()) and fresh["note"][1:] == [None] * 3


def test_a_photo_workers_rows_carry_each_inputs_hash_so_the_driver_journals_it_without_reading(tmp_path, colorizer, monkeypatch):
    """The journal keeps each input's sha256 (an input only touched since is not redone); on Ray the driver
    journals every photo as rows stream back, and reading each input again there, over a share, would make the
    driver the run's bottleneck (a review). The worker, which read the photo, hashes it; the driver takes that."""
    from vidcolor import archive
    from vidcolor.archive import Journal, file_sha256, input_key

    srcs = [write_image(tmp_path / "in" / f"{i}.png", seed=i) for i in range(2)]
    (tmp_path / "in" / "bad.png").write_text("not an image")
    batch = {"src": np.array([str(p) for p in srcs] + [str(tmp_path / "in" / "bad.png")]),
             "dst": np.array([str(tmp_path / "out" / f"{i}.png") for i in range(3)])}
    rows = PhotoBatch(colorizer, FolderOptions(), 0, threads=torch.get_num_threads())(batch)
    by_src = dict(zip(rows["src"], zip(rows["status"], rows["sha256"])))
    assert by_src[str(srcs[0])] == ("done", file_sha256(srcs[0])) and by_src[str(srcs[1])] == ("done", file_sha256(srcs[1]))
    assert by_src[str(tmp_path / "in" / "bad.png")] == ("failed", "")
    journal = Journal(tmp_path / "out", remember=True)
    real = file_sha256
    monkeypatch.setattr(archive, "file_sha256", lambda p: pytest.fail(f"{p} read") if p == srcs[0] else real(p))
    journal.record(srcs[0], "k", "done", tmp_path / "out" / "0.png", stat=input_key(srcs[0]), sha256=by_src[str(srcs[0])][1])
    assert Journal(tmp_path / "out").last(tmp_path / "out" / "0.png")["input_sha256"] == real(srcs[0])


def test_a_ray_photo_runs_driver_journals_the_workers_hashes_without_reading_an_input(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """The test above checks PhotoBatch's rows and Journal.record(sha256=), not that the driver passes the one to the
    other (1d051f1): a RayPhotos that dropped row["sha256"] read every input again on the driver, over a share, and
    the test passed. Here the whole run goes through the driver (Ray stood in for), for a photo colorized and one
    kept as already in colour, with the driver's own file_sha256 failing on any input."""
    import vidcolor
    from vidcolor import archive
    from vidcolor.archive import Journal, file_sha256
    from vidcolor.cluster import RayOptions
    from tests.media import write_colour_image

    src, out = tmp_path / "in", tmp_path / "out"
    photos = [write_image(src / "bw.png", seed=1), write_colour_image(src / "colour.png", h=64, w=64)]
    hashes = {p.name: file_sha256(p) for p in photos}
    real = archive.file_sha256  # the workers' (imported by name) still reads: they hold the photo
    monkeypatch.setattr(archive, "file_sha256", lambda p: pytest.fail(f"the driver read {p}") if Path(p).parent == src else real(p))
    results = {r.input.name: r.status for r in vidcolor.colorize(src, out, colorizer=colorizer, ray=RayOptions("auto"))}
    assert results == {"bw.png": "done", "colour.png": "skipped"}
    journal = Journal(out)
    assert {n: journal.last(out / n)["input_sha256"] for n in hashes} == hashes


def frames_of(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.int16)


def test_a_range_that_starts_at_a_cut_is_colorized_as_one_machine_does(tmp_path, colorizer):
    src = write_video(tmp_path / "film.mp4", w=96, h=64, frames=24, audio=None, scenes=[0] * 10 + [1] * 14)
    opts = VideoOptions(crf=0, segment_seconds=100)  # lossless: differences are the colorizing's, not the encoder's
    colorize_video(src, tmp_path / "one.mp4", colorizer, opts)
    with av.open(str(src)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    plan = plan_output(src, tmp_path / "r.mp4", opts.codec, opts.crf, opts.preset)
    seg = colorize_range(colorizer, src, Range(10, 24), pts[9], [10], opts, plan, tmp_path / "r.mp4")
    assert (seg["frames"], seg["start"], seg["last_pts"]) == (14, 10, pts[23])
    diff = np.abs(frames_of(tmp_path / "r.mp4") - frames_of(tmp_path / "one.mp4")[10:])
    assert diff.max() <= 3 and diff.mean() < 0.05  # the same network, smoother state (reset at the cut) and frames


def test_range_work_keeps_finished_ranges_and_drops_what_it_cannot_trust(tmp_path):
    work = RangeWork(tmp_path / "film.mp4.work", "key1")
    assert work.plan is None
    work.save_plan({"ranges": [{"start": 0, "end": 5, "warmup": 0}, {"start": 5, "end": 9, "warmup": 0}]})
    (work.folder / "r000000.mp4").write_bytes(b"x")
    work.record({"i": 0, "file": "r000000.mp4", "frames": 5})
    work.record({"i": 1, "file": "r000001.mp4", "frames": 4})  # its file was lost
    with open(work.folder / "done.jsonl", "a") as f:
        f.write('{"i": 1, "file": "r0000')  # a line cut off by a kill
    again = RangeWork(tmp_path / "film.mp4.work", "key1")
    assert again.plan["ranges"][1] == {"start": 5, "end": 9, "warmup": 0} and list(again.done) == [0]
    other = RangeWork(tmp_path / "film.mp4.work", "key2")  # other options or another input: start over
    assert other.plan is None and not (tmp_path / "film.mp4.work").exists()


def test_range_work_planned_under_the_temporal_enums_key_is_kept(tmp_path):
    """A stopped Ray run's ranges keyed "temporal=Temporal.ema" (the enum's f-string, before the mode was
    stored as its name) are the same run's: they were discarded and redone."""
    RangeWork(tmp_path / "w", "m:r2|temporal=Temporal.ema:None:v3|mp4|1|2|plan1").save_plan({"ranges": []})
    assert RangeWork(tmp_path / "w", "m:r2|temporal=ema:None:v3|mp4|1|2|plan1").plan is not None


def test_a_range_whose_seek_lands_elsewhere_is_decoded_from_the_start(tmp_path, colorizer):
    # cockatoo.mp4 (../shared/data/video) decodes to green garbage after any seek; here the seek is sent
    # five frames short, so the frames after it get the wrong indices, which the scan's fingerprints catch
    src = write_video(tmp_path / "film.mp4", w=96, h=64, frames=40, audio=None)
    opts = VideoOptions(crf=0, temporal="off")
    with VideoSource(src) as source:
        pts, cuts, prints = scan(source)
    plan = make_plan(pts, cuts, prints, max_frames=20, warmup=0)
    r, checks = Range(**plan["ranges"][1]), {int(k): np.array(v, np.uint8) for k, v in plan["checks"][1].items()}
    out = plan_output(src, tmp_path / "out.mp4", opts.codec, opts.crf, opts.preset)
    right = colorize_range(colorizer, src, r, pts[r.start - 1], cuts, opts, out, tmp_path / "right.mp4", checks)
    wrong = colorize_range(colorizer, src, r, pts[r.start - 6], cuts, opts, out, tmp_path / "wrong.mp4", checks)
    assert right["notes"] == [] and any("decoded from the start" in n for n in wrong["notes"])
    assert np.array_equal(frames_of(tmp_path / "right.mp4"), frames_of(tmp_path / "wrong.mp4"))


@pytest.mark.parametrize("args,no_extra,message", [
    (["--ray", "auto"], True, "--ray needs the ray extra: pip install 'vidcolor[ray]'"),
    (["--ray", "auto", "--device", "cuda:1"], False, "--device cuda:1: with --ray, Ray assigns the GPUs; use auto, cpu or cuda"),
    (["--ray", "head"], False, "--ray head: not HOST:PORT (or auto to start a local Ray instance)"),
])
def test_ray_options_are_refused_in_one_line_before_the_model_loads(tmp_path, monkeypatch, args, no_extra, message):
    from typer.testing import CliRunner

    from vidcolor import cli

    if no_extra:
        monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where the extra is not installed
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    src = write_image(tmp_path / "in" / "a.png")
    r = CliRunner().invoke(cli.app, ["colorize", str(src.parent), "-o", str(tmp_path / "out"), *args])
    assert r.exit_code == 2 and r.stderr.strip().splitlines()[-1].startswith(f"vidcolor: error: {message}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs,message", [
    ({"cpus_per_worker": 0}, "RayOptions(cpus_per_worker=0): a whole number of 1 or more"),
    ({"cpus_per_worker": 1.5}, "RayOptions(cpus_per_worker=1.5): a whole number of 1 or more"),
    ({"cpus_per_worker": True}, "RayOptions(cpus_per_worker=True): a whole number of 1 or more"),
    ({"max_workers": 0}, "RayOptions(max_workers=0): a whole number of 1 or more, or None"),
    ({"max_workers": -2}, "RayOptions(max_workers=-2): a whole number of 1 or more, or None"),
    ({"num_cpus": 0}, "RayOptions(num_cpus=0): a whole number of 1 or more, or None"),
    ({"device": "gpu"}, "--device gpu: with --ray, Ray assigns the GPUs; use auto, cpu or cuda"),
    ({"address": 6379}, "RayOptions(address=6379): give 'auto', 'HOST:PORT' or None"),
])
def test_bad_ray_options_are_refused_before_the_model_loads_or_the_cluster_starts(tmp_path, monkeypatch, kwargs, message):
    """The library's RayOptions took any count: cpus_per_worker=0 ended the run in ZeroDivisionError once the
    model was loaded and the cluster joined, and max_workers=0 ran every worker the cluster had without a word
    (an operator's test). Each is refused where it is made, as a UsageError (ClusterError) naming the field."""
    import vidcolor
    from vidcolor.cluster import RayOptions
    from vidcolor.errors import UsageError

    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    src = write_image(tmp_path / "in" / "a.png")
    with pytest.raises(UsageError) as e:
        vidcolor.colorize(src.parent, tmp_path / "out", ray=RayOptions(**kwargs))
    assert isinstance(e.value, ClusterError) and str(e.value) == message
    assert not (tmp_path / "out").exists()


def test_ray_options_take_numpy_counts_as_whole_numbers():
    """A count computed with numpy (np.int64(4)) is a whole number: RayOptions refused it, saying "a whole number
    of 1 or more" of a whole number (a review). It is kept as the int Ray takes; a numpy bool or float is still
    refused."""
    from vidcolor.cluster import RayOptions

    opts = RayOptions("auto", cpus_per_worker=np.int64(2), max_workers=np.int32(3), num_cpus=np.uint8(4))
    assert (opts.cpus_per_worker, opts.max_workers, opts.num_cpus) == (2, 3, 4)
    assert all(type(v) is int for v in (opts.cpus_per_worker, opts.max_workers, opts.num_cpus))
    assert plan_pool({"CPU": 8}, "cpu", opts.cpus_per_worker, opts.max_workers) == plan_pool({"CPU": 8}, "cpu", 2, 3)
    for bad in (np.True_, np.float64(2.0), np.int64(0)):
        with pytest.raises(ClusterError, match=r"^RayOptions\(max_workers=.*\): a whole number of 1 or more, or None$"):
            RayOptions(max_workers=bad)


def test_no_ray_connection_is_refused_before_the_model_loads(tmp_path, monkeypatch, colorizer):
    """RayOptions(None) uses the caller's own ray.init; without one, vidcolor.colorize loaded the model and only
    then said "no Ray connection" (5.8 s here: an operator's test). Now it is refused first; a dry run, which
    connects to nothing, still runs."""
    ray = pytest.importorskip("ray")
    import vidcolor
    from vidcolor.cluster import RayOptions

    assert not ray.is_initialized()
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    src = write_image(tmp_path / "in" / "a.png")
    with pytest.raises(ClusterError, match="^no Ray connection: pass an address, or auto to start a local instance$"):
        vidcolor.colorize(src.parent, tmp_path / "out", ray=RayOptions(None))
    assert not (tmp_path / "out").exists()
    dry = vidcolor.colorize(src.parent, tmp_path / "out", colorizer=colorizer, ray=RayOptions(None),
                            folder=FolderOptions(dry_run=True))
    assert [r.status for r in dry] == ["planned"]


def _listener(answer: bytes | None, host: str = "127.0.0.1"):
    """A server on a free local port that reads what a client sends and answers `answer` (None: says nothing)."""
    import socket
    import threading

    srv = socket.create_server((host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.recv(1024)
            if answer is not None:
                conn.sendall(answer)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv, f"[{host}]:{srv.getsockname()[1]}" if ":" in host else f"{host}:{srv.getsockname()[1]}"


def test_a_port_where_something_else_listens_is_refused_in_seconds(tmp_path, monkeypatch):
    """`--ray HOST:PORT` of a port where an HTTP server listens (the dashboard's 8265, say) passed the TCP check,
    and ray.init then retried for over a minute, printing Ray's core warnings (an operator's test: still running
    when `timeout 60` stopped it). Now the driver asks for the HTTP/2 that a Ray head's gRPC port speaks, and
    anything else is one line and exit 2, before the model loads; a gRPC answer (a SETTINGS frame) passes."""
    from typer.testing import CliRunner

    from vidcolor import cli
    from vidcolor.cluster.runtime import _check_reachable

    monkeypatch.setattr("vidcolor.cluster.runtime.CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    http, http_address = _listener(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    silent, silent_address = _listener(None)
    grpc, grpc_address = _listener(bytes.fromhex("000018040000000000") + bytes(24))
    try:
        src = write_image(tmp_path / "in" / "a.png")
        r = CliRunner().invoke(cli.app, ["colorize", str(src.parent), "-o", str(tmp_path / "out"), "--ray", http_address])
        assert r.exit_code == 2 and r.stderr.strip().splitlines() == [
            f"vidcolor: error: --ray {http_address}: something listens there, but not a Ray cluster (it does not speak "
            "gRPC); give the head's GCS port, the --port of `ray start --head` (6379 by default)"]
        assert not (tmp_path / "out").exists()
        with pytest.raises(ClusterError, match="a connection opened, but nothing answered in 1 s"):
            _check_reachable(silent_address)
        _check_reachable(grpc_address)
        monkeypatch.setenv("RAY_USE_TLS", "1")  # a TLS cluster: only the open port is checked
        _check_reachable(http_address)
    finally:
        for srv in (http, silent, grpc):
            srv.close()


def test_an_ipv6_head_is_checked_and_a_dropped_connection_is_not_called_opened(monkeypatch):
    """Ray writes an IPv6 head's address [::1]:6379 (its parse_address refuses ::1:6379), and vidcolor's check
    looked up the host "[::1]", brackets and all: "no Ray cluster answers there (Name or service not known)" for a
    head that was there (a review). And a host that drops the connection attempt (a firewall) was said to have
    opened a connection that then said nothing."""
    import socket

    from vidcolor.cluster.runtime import _check_reachable

    monkeypatch.setattr("vidcolor.cluster.runtime.CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        grpc, grpc_address = _listener(bytes.fromhex("000018040000000000") + bytes(24), "::1")
        http, http_address = _listener(b"HTTP/1.0 400 Bad Request\r\n\r\n", "::1")
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    try:
        _check_reachable(grpc_address)
        _check_reachable(f"ray://{grpc_address}")
        with pytest.raises(ClusterError, match=r"something listens there, but not a Ray cluster"):
            _check_reachable(http_address)
    finally:
        grpc.close()
        http.close()

    def dropped(*args, **kwargs):
        raise socket.timeout("timed out")

    monkeypatch.setattr(socket, "create_connection", dropped)
    with pytest.raises(ClusterError) as e:
        _check_reachable("10.255.255.1:6379")
    assert str(e.value) == "--ray 10.255.255.1:6379: no Ray cluster answers there (no connection in 1 s)"


def test_a_ray_that_cannot_write_its_files_is_one_line(monkeypatch):
    """A read-only HOME: Ray's token file failed ray.init with a 146-line traceback and exit 1 (an
    operator's test, 2026-11-27)."""
    ray = pytest.importorskip("ray")
    from vidcolor.cluster.runtime import ClusterError, connect

    def refuse(**kw):
        raise OSError(30, "Read-only file system", "/home/x/.ray")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ClusterError, match=r"^--ray auto: cannot start or join Ray \(\[Errno 30\] Read-only file system"):
        with connect("auto", 1):
            pass


def test_checking_a_ray_address_loads_no_pipeline():
    """`--ray localhost` took 6 s to refuse: the cluster package imported torch (an operator's test)."""
    import subprocess
    import sys

    code = ("import sys\nfrom vidcolor.cluster.runtime import RayOptions\nfrom vidcolor.errors import UsageError\n"
            "try:\n    RayOptions('localhost', 'cpu')\nexcept UsageError:\n    pass\nelse:\n    raise SystemExit('not refused')\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# -- the driver, with Ray's few calls stood in for in this process (tests/fake_ray.py) -----------------

@pytest.fixture
def stand_in_ray(monkeypatch):
    from tests import fake_ray

    fake_ray.install(monkeypatch)
    threads = torch.get_num_threads()  # an actor sets the process's torch threads; keep the suite's
    yield
    torch.set_num_threads(threads)


def test_a_film_on_the_cluster_keeps_a_protected_output_and_resumes_a_stop_after_its_join(tmp_path, colorizer, stand_in_ray):
    """The Ray film path skipped what colorize_video does before writing: an output made read-only was
    replaced, and a run stopped between the join's rename and the journal's line (hashing a long film)
    left a film every re-run refused as "not written by vidcolor", where -y threw all its ranges away (review)."""
    import vidcolor
    from vidcolor.archive import Journal
    from vidcolor.cluster import RayOptions
    from vidcolor.errors import OutputError

    src = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=16, audio=None)
    opts = VideoOptions(segment_seconds=0.3)
    dst = tmp_path / "out" / "protected.mp4"
    assert [r.status for r in vidcolor.colorize(src, dst, colorizer=colorizer, video=opts, ray=RayOptions("auto"))] == ["done"]
    dst.chmod(0o444)
    before = dst.stat().st_ino
    with pytest.raises(OutputError, match="is read-only"):
        vidcolor.colorize(src, dst, colorizer=colorizer.with_strength(1.5), video=opts, ray=RayOptions("auto"))
    assert dst.stat().st_ino == before

    stopped = tmp_path / "out" / "stopped.mp4"
    record = Journal.record

    def stop_at_done(self, src_, key, status, *a, **k):
        if status == "done":
            raise KeyboardInterrupt("stopped while the finished film is hashed")
        return record(self, src_, key, status, *a, **k)

    Journal.record = stop_at_done
    try:
        with pytest.raises(KeyboardInterrupt):
            vidcolor.colorize(src, stopped, colorizer=colorizer, video=opts, ray=RayOptions("auto"))
    finally:
        Journal.record = record
    assert stopped.is_file()
    assert [r.status for r in vidcolor.colorize(src, stopped, colorizer=colorizer, video=opts, ray=RayOptions("auto"))] == ["done"]


def test_a_film_gone_between_its_plan_and_its_ray_run_fails_as_not_found(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """9dba071 made a film moved away after its plan "file not found" on one machine; the Ray film path still took a
    bare stat and raised FileNotFoundError, a traceback from `vidcolor film.mp4 --ray auto` (a reviewer's find). It is
    the same InputError, journaled as the failure, as on one machine."""
    import vidcolor
    import vidcolor.cluster.film as film
    from vidcolor.archive import Journal
    from vidcolor.cluster import RayOptions
    from vidcolor.errors import InputError

    src = write_video(tmp_path / "reel.mp4", w=64, h=48, frames=4, audio=None)
    plan = film.plan_output

    def planned_then_moved(s, *a, **k):
        p = plan(s, *a, **k)
        s.unlink()
        return p

    monkeypatch.setattr(film, "plan_output", planned_then_moved)
    dst = tmp_path / "out" / "reel.mp4"
    with pytest.raises(InputError, match=r"reel\.mp4: file not found$"):
        vidcolor.colorize(src, dst, colorizer=colorizer, ray=RayOptions("auto"))
    assert Journal(dst.parent).last(dst)["note"] == f"{src}: file not found"


class _StopAfter:
    """A progress= object that stops the run (as Ctrl-C does) once `frames` frames are done."""

    def __init__(self, frames: int):
        self.frames = frames

    def inputs(self, total):
        pass

    def video(self, path, frames, segment_frames):
        def tick(done, total):
            if done >= self.frames:
                raise KeyboardInterrupt("stopped")
        return tick


@pytest.mark.parametrize("first", ["ray", "one machine"])
def test_a_film_stopped_one_way_and_finished_the_other_leaves_no_segments(tmp_path, colorizer, stand_in_ray, first):
    """A film whose `--ray` run was stopped and then finished on one machine (the cluster down that night), or
    the other way round, left the stopped run's work folder and segments, a film's worth of disk, in
    OUT/.vidcolor for good (an operator's test). Whichever way finishes the film removes both."""
    import vidcolor
    from vidcolor.cluster import RayOptions

    src = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=32, audio=None)
    opts = VideoOptions(segment_seconds=0.3)
    dst = tmp_path / "out" / "film.mp4"
    ray_opts = {"ray": RayOptions("auto")}
    stopped, finishing = (ray_opts, {}) if first == "ray" else ({}, ray_opts)
    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(src, dst, colorizer=colorizer, video=opts, progress=_StopAfter(8), **stopped)
    work = tmp_path / "out" / ".vidcolor" / ("ray/film.mp4.work" if first == "ray" else "film.mp4.work")
    assert any(work.glob("*.mp4")) and not dst.exists()
    assert [r.status for r in vidcolor.colorize(src, dst, colorizer=colorizer, video=opts, **finishing)] == ["done"]
    assert not work.exists()
    assert not any((tmp_path / "out" / ".vidcolor").rglob("*.work"))


def test_a_one_machine_run_that_stops_keeps_the_clusters_finished_ranges(tmp_path, colorizer, stand_in_ray):
    """c877950 made discard_work remove the Ray run's work folder too, and a one-machine sink calls it when it
    starts afresh: a film whose --ray run had stopped with ranges done, then run once without --ray and stopped
    (the cluster down for an hour), lost every range the cluster had finished (a review). Only the run that
    finishes the film (or starts over with -y) removes the other's folder; a --ray run then resumes its ranges."""
    import vidcolor
    from vidcolor.cluster import RayOptions

    src = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=32, audio=None)
    opts = VideoOptions(segment_seconds=0.3)
    dst = tmp_path / "out" / "film.mp4"
    ray_work = tmp_path / "out" / ".vidcolor" / "ray" / "film.mp4.work"
    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(src, dst, colorizer=colorizer, video=opts, progress=_StopAfter(8), ray=RayOptions("auto"))
    ranges = sorted(p.name for p in ray_work.glob("*.mp4"))
    assert ranges
    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(src, dst, colorizer=colorizer, video=opts, progress=_StopAfter(8))
    assert sorted(p.name for p in ray_work.glob("*.mp4")) == ranges
    assert any((tmp_path / "out" / ".vidcolor" / "film.mp4.work").glob("*.mp4"))
    [res] = vidcolor.colorize(src, dst, colorizer=colorizer, video=opts, ray=RayOptions("auto"))
    assert res.status == "done" and res.frames_resumed > 0
    assert not any((tmp_path / "out" / ".vidcolor").rglob("*.work"))


def test_workers_in_another_working_directory_read_and_write_the_drivers_files(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """A worker's working directory is its raylet's, not the driver's: `cd /shared && vidcolor scans -o colour
    --ray head:6379` failed every photo "file not found", and where the raylet's folder held a file of the same
    relative name, colorized that one into a folder of the raylet's and said "done" (an operator's test). The
    workers now get absolute paths; the lines and results keep the paths as given."""
    from pathlib import Path

    import vidcolor
    from tests import fake_ray
    from vidcolor.cluster import RayOptions

    raylets = tmp_path / "raylet"
    real = fake_ray._Mapped.iter_rows

    def in_the_raylets_folder(self):  # each actor built and called where a raylet would run it
        here, rows = os.getcwd(), real(self)
        while True:
            os.chdir(raylets)
            try:
                row = next(rows)
            except StopIteration:
                return
            finally:
                os.chdir(here)
            yield row

    monkeypatch.setattr(fake_ray._Mapped, "iter_rows", in_the_raylets_folder)
    write_image(raylets / "in" / "a.png", seed=9)  # a decoy of the same relative name
    write_image(tmp_path / "shared" / "in" / "a.png")
    write_video(tmp_path / "shared" / "in" / "clip.mp4", w=64, h=48, frames=16, audio=None)
    monkeypatch.chdir(tmp_path / "shared")
    results = vidcolor.colorize(Path("in"), Path("out"), colorizer=colorizer, video=VideoOptions(segment_seconds=0.3),
                                ray=RayOptions("auto"))
    assert sorted((str(r.input), str(r.output), r.status) for r in results) == [
        ("in/a.png", "out/a.png", "done"), ("in/clip.mp4", "out/clip.mp4", "done")]
    assert (tmp_path / "shared" / "out" / "a.png").is_file() and (tmp_path / "shared" / "out" / "clip.mp4").is_file()
    assert not (raylets / "out").exists()


class _ActorDied(Exception):
    """What Ray raises where a worker's constructor failed (ray.exceptions.ActorDiedError, actor_init_failed)."""

    actor_init_failed = True


@pytest.mark.parametrize("cause,reason", [
    ("vidcolor.errors.VidcolorError: worker colorizer a differs from the driver's b (is the same vidcolor installed on every node?)",
     "worker colorizer a differs from the driver's b (is the same vidcolor installed on every node?)"),
    ("ModuleNotFoundError: No module named 'torch'", "ModuleNotFoundError: No module named 'torch'"),
])
def test_a_worker_that_cannot_start_is_one_line(tmp_path, colorizer, stand_in_ray, monkeypatch, cause, reason):
    """A worker whose constructor raised (the driver's model check, on a node with another vidcolor) ended the
    run in Ray's ActorDiedError: 351 lines of tracebacks and exit 1 (an operator's test). Now it is a
    ClusterError (exit 2) naming the reason, for photos and films alike; other errors pass through as they were."""
    import vidcolor
    from tests import fake_ray
    from vidcolor.cluster import RayOptions

    died = _ActorDied("The actor died because of an error raised in its creation task, \x1b[36mray::MapWorker(MapBatches"
                      "(PhotoBatch)).__init__()\x1b[39m (pid=1, ip=10.0.0.2)\n  File \"workers.py\", line 66, in __init__\n"
                      f"    raise ...\n{cause}")

    def cannot_start(self):
        raise died
        yield

    monkeypatch.setattr(fake_ray._Mapped, "iter_rows", cannot_start)
    write_image(tmp_path / "in" / "a.png")
    write_video(tmp_path / "in" / "b.mp4", w=64, h=48, frames=8, audio=None)
    for src, dst in ((tmp_path / "in", tmp_path / "out"), (tmp_path / "in" / "b.mp4", tmp_path / "film" / "b.mp4")):
        with pytest.raises(ClusterError) as e:
            vidcolor.colorize(src, dst, colorizer=colorizer, ray=RayOptions("auto"))
        assert str(e.value) == f"a Ray worker could not start: {reason}"
    from vidcolor.cluster.runtime import rows_of

    other = ValueError("a batch failed")

    def fails(self):
        raise other
        yield

    with pytest.raises(ValueError) as e:
        next(rows_of(type("Ds", (), {"iter_rows": fails})()))
    assert e.value is other


def test_a_folders_videos_go_to_the_cluster_with_the_runs_video_options(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """A Ray folder run called colorize_folder without the video options: its videos ran on the driver's
    CPU with the defaults (--crf, --temporal ignored, and journaled so). A video with a hints file runs here."""
    import json

    import vidcolor
    import vidcolor.cluster.film as film
    from vidcolor.cluster import RayOptions

    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "a.mp4", w=64, h=48, frames=8, audio=None)
    write_video(tmp_path / "in" / "b.mp4", w=64, h=48, frames=8, audio=None)
    (tmp_path / "in" / "b.hints.json").write_text(json.dumps({"frames": {"0": {"points": [{"x": 5, "y": 5, "color": "#3060c0"}]}}}))
    on_cluster = []
    real = film.colorize_video_on_ray
    monkeypatch.setattr(film, "colorize_video_on_ray", lambda ray, pool, s, d, col, opts, progress=None, **kw: (
        on_cluster.append((s.name, opts.crf, opts.temporal)), real(ray, pool, s, d, col, opts, progress, **kw))[1])
    opts = VideoOptions(crf=35, temporal="off", segment_seconds=0.3)
    results = {r.input.name: r for r in vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, video=opts,
                                                          ray=RayOptions("auto"))}
    assert on_cluster == [("a.mp4", 35, "off")]
    assert results["a.mp4"].status == "done"
    b = results["b.mp4"]
    assert b.status == "done" and any("ran on this machine" in n for n in b.notes), b  # hint points need no hint inputs
    keys = [e["key"] for e in map(json.loads, (tmp_path / "out" / ".vidcolor" / "journal.jsonl").read_text().splitlines())
            if e["status"] == "done" and e["target"].endswith("a.mp4")]
    assert keys and "temporal=off" in keys[-1] and "crf=35" in keys[-1].replace(" ", ""), keys


def test_a_photo_or_range_that_crashes_its_worker_fails_alone(tmp_path, colorizer, monkeypatch):
    """One damaged TIFF whose reader raised IndexError aborted a whole Ray run with a 177-line traceback,
    where one machine fails that file in one line and goes on (review); a film range likewise."""
    import json

    import vidcolor.cluster.workers as workers
    from vidcolor.cluster.workers import FilmRange

    srcs = [write_image(tmp_path / "in" / f"{i}.png", seed=i) for i in range(2)]
    real_read = workers.read_or_error.__globals__["read_image"]

    def crashing(path, *a, **k):
        if path.name == "1.png":
            raise IndexError("list index out of range")
        return real_read(path, *a, **k)

    monkeypatch.setitem(workers.read_or_error.__globals__, "read_image", crashing)
    threads = torch.get_num_threads()
    try:
        rows = PhotoBatch(colorizer, FolderOptions(), 0, threads=threads)(
            {"src": np.array([str(p) for p in srcs]), "dst": np.array([str(tmp_path / "out" / p.name) for p in srcs])})
        assert rows["status"] == ["failed", "done"] or rows["status"] == ["done", "failed"]
        note = rows["note"][rows["status"].index("failed")]
        assert "1.png: unexpected error (IndexError" in note and "please report it" in note

        clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=8, audio=None)
        plan = plan_output(clip, tmp_path / "out.mp4")
        monkeypatch.setattr(workers, "colorize_range", lambda *a, **k: (_ for _ in ()).throw(TypeError("boom")))
        task = json.dumps({"i": 0, "start": 0, "end": 8, "warmup": 0, "after_pts": None, "cuts": [], "checks": {}})
        out = json.loads(FilmRange(colorizer, str(clip), VideoOptions(), plan, str(tmp_path / "work"), threads=threads)(
            {"task": np.array([task])})["result"][0])
        assert out["kind"] == "InputError" and "unexpected error (TypeError: boom" in out["error"], out
    finally:
        torch.set_num_threads(threads)


def test_a_worker_refuses_a_colorizer_other_than_the_drivers(colorizer):
    """The worker compared the model_id its own code computed with itself: a node with older vidcolor
    code (another render version) would have colorized under the driver's journal key."""
    from vidcolor.errors import VidcolorError

    threads = torch.get_num_threads()
    try:
        PhotoBatch(colorizer, FolderOptions(), 0, threads=threads, driver_model_id=colorizer.model_id)  # the same: fine
        with pytest.raises(VidcolorError, match="differs from the driver's .*:r1"):
            PhotoBatch(colorizer, FolderOptions(), 0, threads=threads, driver_model_id=colorizer.model_id.replace(f":r{RENDER_VERSION}", ":r1"))
    finally:
        torch.set_num_threads(threads)


def test_a_full_disk_stops_a_ray_folder_run_and_its_notes_are_one_machines(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """On Ray a full disk failed each photo in turn (29 FAILED lines) and the run exited 1, where one machine stops
    with exit 4, which the README's cron line flags; and a photo's notes came back in `note`, not `notes`
    (an operator's test)."""
    import errno

    import vidcolor
    import vidcolor.cluster.workers as workers
    from vidcolor.cluster import RayOptions
    from vidcolor.errors import StorageError

    (tmp_path / "in").mkdir()
    for name in "abcd":
        write_image(tmp_path / "in" / f"{name}.png", h=24, w=32)
    opts = FolderOptions(fmt_ext=".webp", batch_size=1)
    from PIL import Image

    Image.open(tmp_path / "in" / "a.png").save(tmp_path / "in" / "a.png", dpi=(300, 300))  # WebP drops DPI: a note
    one = {r.input.name: r for r in vidcolor.colorize(tmp_path / "in", tmp_path / "one", colorizer=colorizer, folder=opts)}
    ray = {r.input.name: r for r in vidcolor.colorize(tmp_path / "in", tmp_path / "ray", colorizer=colorizer, folder=opts,
                                                      ray=RayOptions("auto"))}
    assert ray["a.png"].notes == one["a.png"].notes and ray["a.png"].note == one["a.png"].note, (ray["a.png"], one["a.png"])
    assert any("DPI" in n for n in ray["a.png"].notes)

    real, written = workers.write_image, []

    def full_after_one(dst, out, img, *rest):  # rest: the provenance mark the workers pass on
        if written:
            raise StorageError(f"{dst}: cannot write: {os.strerror(errno.ENOSPC)}; the run stops (what it finished is kept)")
        written.append(dst)
        real(dst, out, img, *rest)

    monkeypatch.setattr(workers, "write_image", full_after_one)
    seen = []
    with pytest.raises(StorageError, match="No space left"):
        vidcolor.colorize(tmp_path / "in", tmp_path / "full", colorizer=colorizer, folder=opts, ray=RayOptions("auto"),
                          on_result=seen.append)
    assert [r.status for r in seen] == ["done"]  # stopped at the first photo the disk refused


def test_a_failed_join_keeps_rays_core_lines_out_of_the_log(capfd):
    """A `ray start` cluster that wants a token: Ray's C++ core printed "gcs_client.cc:210: Failed to get cluster ID"
    once a second for about 20 s before vidcolor's line saying why (an operator's test). On a failed ray.init
    those lines are dropped; other text, and everything of one that succeeds, is passed on."""
    from vidcolor.cluster.runtime import _without_the_log_level_line

    core = "[2026-11-28 10:00:00,123 W 4242 4242] gcs_client.cc:210: Failed to get cluster ID from GCS server: Unauthenticated\n"
    error = "[2026-11-28 10:00:00,123 E 4242 4242] core_worker.cc:99: cannot map the object store\n"
    with pytest.raises(ConnectionError), _without_the_log_level_line():
        os.write(2, (core * 3 + error + "a Python warning\n").encode())
        raise ConnectionError("no")
    assert capfd.readouterr().err == error + "a Python warning\n"  # its errors are kept
    with pytest.raises(ConnectionError), _without_the_log_level_line(drop_core_notices=False):  # RAY_BACKEND_LOG_LEVEL set
        os.write(2, core.encode())
        raise ConnectionError("no")
    assert capfd.readouterr().err == core
    with _without_the_log_level_line():
        os.write(2, core.encode())
    assert capfd.readouterr().err == core


def test_rays_notice_of_its_own_stop_is_dropped_and_others_are_plain_lines(capsys):
    """A SIGTERM'd `--ray auto` run printed "(raylet) Task MapWorker(...) failed ... killed by ray.kill" in
    terminal colours into the cron log (an operator's test), and Ray 2.60 writes it "killed by `ray.kill`" (a
    Ctrl-C'd run's log, another operator's test). That notice, the run's own doing, is dropped in either form;
    others (out of memory, say) come as plain lines on stderr; Ray's printer is put back afterwards."""
    ray_worker = pytest.importorskip("ray._private.worker")
    from vidcolor.cluster.runtime import _plain_raylet_notices

    real = ray_worker.print_to_stdstream
    with _plain_raylet_notices():
        ray_worker.print_to_stdstream({"lines": ["\x1b[33mTask X failed: The actor is dead because it was killed by ray.kill.\x1b[0m"],
                                       "pid": "raylet", "is_err": False}, ignore_prefix=False)
        ray_worker.print_to_stdstream({"lines": ["Task MapWorker(MapBatches(PhotoBatch)).submit failed. There are infinite retries "
                                                 "remaining, so the task will be retried. Error: The actor is dead because it was "
                                                 "killed by `ray.kill`."], "pid": "raylet", "is_err": False}, ignore_prefix=False)
        ray_worker.print_to_stdstream({"lines": ["\x1b[33mTask Y was killed due to the node running low on memory.\x1b[0m"],
                                       "pid": "raylet", "is_err": False}, ignore_prefix=False)
    assert capsys.readouterr() == ("", "(raylet) Task Y was killed due to the node running low on memory.\n")
    assert ray_worker.print_to_stdstream is real


@pytest.mark.parametrize("copy_skipped", [True, False])
def test_a_colour_photo_replaced_while_a_ray_worker_has_it_is_looked_at_again(tmp_path, colorizer, stand_in_ray, monkeypatch,
                                                                             copy_skipped):
    """fb64b16 journals a photo with its size and mtime from before the workers read it, but a photo the worker
    found already in colour was journaled with the file's size and mtime when its line came back: a colour scan
    replaced by its black-and-white re-scan on the way was skipped as "already in colour" by every later run,
    the re-scan never colorized (a review). Both are journaled as they were before the run."""
    import time

    import vidcolor
    from tests import fake_ray
    from tests.media import write_colour_image
    from vidcolor.cluster import RayOptions

    src, out = tmp_path / "in", tmp_path / "out"
    photo = write_colour_image(src / "a.png", h=64, w=64)
    real = fake_ray._Mapped.iter_rows

    def rescanned_on_the_way(self):
        for row in real(self):
            write_image(photo, h=64, w=64, seed=5)  # the black-and-white re-scan lands
            os.utime(photo, ns=(time.time_ns(), time.time_ns() + 10**9))
            yield row

    monkeypatch.setattr(fake_ray._Mapped, "iter_rows", rescanned_on_the_way)
    folder = FolderOptions(copy_skipped=copy_skipped)
    [first] = vidcolor.colorize(src, out, colorizer=colorizer, folder=folder, ray=RayOptions("auto"))
    assert first.status == "skipped" and "already in colour" in first.note
    monkeypatch.setattr(fake_ray._Mapped, "iter_rows", real)
    assert [r.status for r in vidcolor.colorize(src, out, colorizer=colorizer, folder=folder, ray=RayOptions("auto"))] == ["done"]


def test_a_gpu_worker_keeps_a_checkpoints_working_size_under_64():
    """A run at --size 48 writes work_size 48 in its checkpoints' meta, which the CLI and the library colorize
    at; a worker moved onto its GPU rebuilt the colorizer through work_size=, which takes 64 or more, and
    every GPU worker of a --ray run stopped with '--work-size 48: not a whole number from 64 to 2048' (a
    reviewer's find). "cpu:0" takes the same path as "cuda" here, on a machine without one."""
    from vidcolor.cluster.workers import on_device
    from vidcolor.colorizer import Colorizer
    from vidcolor.models import create_model

    model = create_model("effnet_unet")
    model.checkpoint_meta = {"work_size": 48}
    driver = Colorizer(model)
    driver.flip = True
    worker = on_device(driver, "cpu:0", 1)
    assert worker is not driver and worker.work_size == 48 and worker.flip
    assert worker.model_id == driver.model_id
    explicit = Colorizer(create_model("effnet_unet"), work_size=128)
    assert on_device(explicit, "cpu:0", 1).work_size == 128


def test_a_full_disk_under_a_film_range_stops_a_ray_run_as_on_one_machine(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """A range's segment that the disk could not take failed that film alone (an OutputError: exit 1), and a
    folder run went on to its next film, where one machine stops with exit 4 and keeps what it finished (a
    --ray run into a 400 KB tmpfs: an operator's find). Now the run stops; the next run resumes the ranges."""
    import errno

    import vidcolor
    from vidcolor.archive import Journal
    from vidcolor.cluster import RayOptions
    from vidcolor.errors import StorageError
    from vidcolor.io.segments import SegmentEncoder

    (tmp_path / "in").mkdir()
    for name in "ab":
        write_video(tmp_path / "in" / f"{name}.mp4", w=64, h=48, frames=16, audio=None)
    opts = VideoOptions(segment_seconds=0.2)
    real, finished = SegmentEncoder.finish, []

    def full_after_one(self):
        if finished:
            raise av.error.OSError(errno.ENOSPC, "No space left on device")
        finished.append(self.path)
        return real(self)

    monkeypatch.setattr(SegmentEncoder, "finish", full_after_one)
    seen, out = [], tmp_path / "out"
    with pytest.raises(StorageError, match=r"a\.mp4: encoding failed at the end of frames .*No space left on device; the run stops"):
        vidcolor.colorize(tmp_path / "in", out, colorizer=colorizer, video=opts, ray=RayOptions("auto"), on_result=seen.append)
    assert seen == [] and len(finished) == 1  # b.mp4 not tried, a.mp4 not failed
    assert all(e.get("status") != "failed" for e in Journal(out).entries.values())
    monkeypatch.setattr(SegmentEncoder, "finish", real)
    results = vidcolor.colorize(tmp_path / "in", out, colorizer=colorizer, video=opts, ray=RayOptions("auto"))
    assert [(r.input.name, r.status) for r in results] == [("a.mp4", "done"), ("b.mp4", "done")]
    assert any(n.startswith("resumed:") for n in results[0].notes), results[0].notes


def test_a_film_plan_or_range_record_on_a_full_disk_is_a_storage_error(tmp_path, monkeypatch):
    """The driver's plan.json and done.jsonl on a full disk raised a bare OSError (an unexpected error, that film
    failed) where one machine's segments' log stops the run (exit 4)."""
    import errno

    import vidcolor.cluster.film as film
    from vidcolor.errors import StorageError

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    work = RangeWork(tmp_path / "w", "key")
    monkeypatch.setattr(film, "atomic_write_text", full)
    with pytest.raises(StorageError, match="cannot save the film's plan .No space left on device.; the run stops"):
        work.save_plan({"ranges": []})
    monkeypatch.setattr(film.os, "fsync", full)
    with pytest.raises(StorageError, match="cannot record a finished range .No space left on device.; the run stops"):
        work.record({"i": 0, "file": "r000000.mp4"})
    assert work.done == {}


def test_a_ray_runs_failures_name_the_inputs_as_given_as_one_machine_does(tmp_path, colorizer, stand_in_ray, monkeypatch):
    """`vidcolor scans -o colour --ray auto`: a broken scan was `FAILED /tmp/x/scans/b.jpg: ...` where the same
    command without --ray says `FAILED scans/b.jpg: ...` (the workers get absolute paths), in the lines, the
    report and the journal; the journal's note then differed from one machine's, so a nightly job run on Ray one
    night and on one machine the next added a failed line for each broken scan every night (an operator's test)."""
    from pathlib import Path

    import vidcolor
    from vidcolor.cluster import RayOptions

    write_image(tmp_path / "scans" / "a.png")
    (tmp_path / "scans" / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "colour" / ".vidcolor" / "journal.jsonl"
    def failed(**ray):
        [r] = [r for r in vidcolor.colorize(Path("scans"), Path("colour"), colorizer=colorizer, **ray) if r.status == "failed"]
        return r.error

    one = failed()
    assert one.startswith("scans/b.jpg: ")
    assert failed(ray=RayOptions("auto")) == one
    lines = journal.read_text().count("\n")
    for _ in range(2):
        assert failed() == one and failed(ray=RayOptions("auto")) == one
    assert journal.read_text().count("\n") == lines  # the same failure each night: no line added
