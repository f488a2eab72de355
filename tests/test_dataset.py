"""The v2 data recipe (training/dataset.py) on a generated tree: a fake shared train folder and fake
repository copies with ADE-like padded photos, duplicates, a gray photo and tiny photos."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.__main__ import main as training_main
from training.dataset import BuildConfig, SameColours, build, cap_domain, dedupe
from training.pack import write_pack
from training.photo_prep import crop_padding, phash, scene_from_shares
from training.sources import ADE_PAD_RGB
from vidcolor.errors import InputError, OutputError, UsageError

ADE = "lehtoneo+cross-platform-inference-data-api"
CARS = "fmejbah+car_dataset1"
VOC = "mateusrafael4+Atividade_programacao_pose_estimation"
SOURCES = ("clothing", "camvid_streets", "flowers128", "ade20k", "stanford_cars", "voc2012")


def photo(seed: int, w: int, h: int, warm: bool = False) -> np.ndarray:
    """A smooth random colour picture: different seeds give far-apart perceptual hashes."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (4, 4, 3)).astype(np.float32)
    small[..., 0 if warm else 2] = np.clip(small[..., 0 if warm else 2] + 90, 0, 255)  # red-ish or blue-ish
    return np.asarray(Image.fromarray(small.astype(np.uint8)).resize((w, h), Image.BICUBIC))


def save(path, rgb, quality=95):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=quality)


def fake_classifier(rgb):
    """Warm pictures are rooms (floor + ceiling), cool ones streets (buildings): ADE20K class shares."""
    r, b = rgb[..., 0].mean(), rgb[..., 2].mean()
    return {4: 0.3, 6: 0.3} if r > b else {2: 0.4, 3: 0.3}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    sh, repos = root / "shared", root / "repos"
    for i in range(6):
        save(sh / "clothing" / f"c{i}.jpg", photo(100 + i, 160, 120))
        save(sh / "camvid_streets" / f"s{i}.jpg", photo(200 + i, 140, 100))
        save(sh / "flowers128" / f"f{i}.jpg", photo(300 + i, 128, 128))
    gray = photo(400, 150, 110).mean(-1, keepdims=True).repeat(3, -1).astype(np.uint8)
    save(sh / "flowers128" / "gray.jpg", gray)
    save(sh / "flowers128" / "tiny.jpg", photo(401, 90, 60))  # short side below 96
    # ADE-like: the picture top-left on a 512x512 canvas of the padding colour; even: rooms, odd: streets
    for i in range(12):
        pic = photo(500 + i, 512, 300 + 10 * i, warm=i % 2 == 0) if i % 3 else photo(500 + i, 280 + 10 * i, 512, warm=i % 2 == 0)
        canvas = np.empty((512, 512, 3), np.uint8)
        canvas[:] = ADE_PAD_RGB
        canvas[:pic.shape[0], :pic.shape[1]] = pic
        save(repos / ADE / "ade20k" / f"ADE_val_{i + 1:08d}.jpg", canvas, quality=90)
    save(repos / ADE / "ade20k" / "ADE_val_00000099.jpg", np.full((512, 512, 3), ADE_PAD_RGB, np.uint8))  # all padding
    for i in range(4):
        save(repos / CARS / "cars_train" / f"{i:05d}.jpg", photo(600 + i, 400, 300 if i < 3 else 200))  # 1 too small
    for i in range(5):
        save(repos / VOC / "images" / f"2008_{i:06d}.jpg", photo(700 + i, 200, 150, warm=i % 2 == 1))
    shutil.copy(sh / "clothing" / "c0.jpg", repos / VOC / "images" / "2008_000009.jpg")  # exact duplicate across sources
    near = (photo(101, 160, 120).astype(int) + 3).clip(0, 255).astype(np.uint8)  # c1, brighter and recompressed
    save(repos / VOC / "images" / "2008_000010.jpg", near, quality=80)
    save(repos / VOC / "images" / "ca1.jpeg", photo(800, 300, 200))  # an Animal-Pose extra: left out by name
    return root


def run(tree, out_root, **kw):
    cfg = BuildConfig(out=out_root / "v2", shared=tree / "shared", repos=tree / "repos", sources=SOURCES,
                      scenes=4, workers=1, **kw)
    logs = []
    return build(cfg, classifier=fake_classifier, log=logs.append), cfg, logs


def files(root):
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.jpg"))}


@pytest.fixture(scope="module")
def built(tree, tmp_path_factory):
    return run(tree, tmp_path_factory.mktemp("out"))


def test_counts_per_source_and_drop_reasons(built):
    m, cfg, _ = built
    s = m["sources"]
    assert s["flowers128"]["found"] == 8 and s["flowers128"]["dropped"]["gray"] == 1
    assert s["flowers128"]["dropped"]["small"] == 1 and s["flowers128"]["kept"] == 6
    assert s["stanford_cars"]["found"] == 4 and s["stanford_cars"]["dropped"]["small"] == 1  # min short side 256
    assert s["voc2012"]["dropped"]["duplicate"] == 1 and s["voc2012"]["dropped"]["near_duplicate"] == 1
    assert s["voc2012"]["found"] == 7 and s["voc2012"]["ruled_out_by_name"] == 1
    assert s["stanford_cars"]["kept"] == 3 and s["clothing"]["kept"] == 6  # the shared copies win
    assert s["ade20k"]["found"] == 13 and s["ade20k"]["dropped"]["small"] == 1  # the all-padding one
    assert m["total"] == len(files(cfg.out)) == 6 + 6 + 6 + 3 + 5 + 12 - 4
    assert s["ade20k"]["licence"].startswith("repository: no licence stated")
    on_disk = json.loads((cfg.out / "manifest.json").read_text())
    assert on_disk["domains"]["indoor"]["kept"] == m["domains"]["indoor"]["kept"] > 0


def test_ade_padding_is_cropped_to_the_picture(built):
    m, cfg, _ = built
    sizes = {p.name: Image.open(p).size for p in list(cfg.out.rglob("ADE_*.jpg")) + list(cfg.scenes_out.rglob("ADE_*.jpg"))}
    assert len(sizes) == 12
    for i in range(12):
        expect = (512, 300 + 10 * i) if i % 3 else (280 + 10 * i, 512)
        s = 384 / min(expect)
        if s < 1:  # shrunk to a short side of 384
            expect = (round(expect[0] * s), round(expect[1] * s))
        assert sizes[f"ADE_val_{i + 1:08d}.jpg"] == expect


def test_crop_padding_measures_the_border_on_every_side():
    pic = photo(1, 150, 90)
    canvas = np.zeros((200, 220, 3), np.uint8)
    canvas[:] = ADE_PAD_RGB
    canvas[30:120, 10:160] = pic
    assert crop_padding(canvas, [ADE_PAD_RGB]).shape == (90, 150, 3)
    assert crop_padding(pic, [ADE_PAD_RGB]).shape == pic.shape  # nothing to crop
    assert crop_padding(np.zeros((50, 60, 3), np.uint8), [(0, 0, 0)]).size == 0


def test_duplicates_dropped_across_sources_and_gray_photos_never_kept(built):
    m, cfg, _ = built
    names = {p.name for p in cfg.out.rglob("*.jpg")}
    assert {"2008_000009.jpg", "2008_000010.jpg", "gray.jpg", "tiny.jpg", "00003.jpg", "ca1.jpg"}.isdisjoint(names)
    dups = json.loads((cfg.work / "duplicates.json").read_text())
    assert dups["voc2012/images/2008_000009.jpg"] == ["duplicate", "clothing/c0.jpg"]
    assert dups["voc2012/images/2008_000010.jpg"] == ["near_duplicate", "clothing/c1.jpg"]


def test_dedupe_keeps_the_first_and_matches_hashes_within_the_bit_budget_when_colours_agree():
    a, b = photo(1, 96, 96), photo(2, 96, 96)
    cands = [(("s", "a"), {"id": "1", "phash": f"{phash(a):016x}"}), (("s", "b"), {"id": "2", "phash": f"{phash(b):016x}"}),
             (("t", "a2"), {"id": "3", "phash": f"{phash(a) ^ 0b111:016x}"}), (("t", "b"), {"id": "2", "phash": "0" * 16})]
    assert dedupe(cands, bits=3) == {("t", "a2"): ("near_duplicate", ("s", "a")), ("t", "b"): ("duplicate", ("s", "b"))}
    assert ("t", "a2") not in dedupe(cands, bits=2)
    assert ("t", "a2") not in dedupe(cands, bits=3, same=lambda k, kept: False)  # the colour check vetoes it


def test_colour_check_tells_a_recompressed_copy_from_a_recoloured_picture(tmp_path):
    a = photo(5, 120, 90)
    save(tmp_path / "img" / "s" / "a.jpg", a)
    save(tmp_path / "img" / "s" / "copy.jpg", (a.astype(int) + 4).clip(0, 255).astype(np.uint8), quality=70)
    save(tmp_path / "img" / "s" / "recoloured.jpg", a[..., ::-1].copy())
    same = SameColours(tmp_path, {"s": {n: {"file": f"{n}.jpg"} for n in ("a", "copy", "recoloured")}})
    assert same(("s", "a"), ("s", "copy")) and not same(("s", "a"), ("s", "recoloured"))


def test_scenes_are_held_out_city_and_indoor_from_new_sources_only(built):
    m, cfg, _ = built
    scenes = files(cfg.scenes_out)
    assert len(scenes) == 4
    assert sorted({k.split("/")[0] for k in scenes}) == ["city", "indoor"]
    assert {k.split("/")[1] for k in scenes} == {"ade20k"}  # the VOC sources are object portraits, never held out
    assert set(scenes.values()).isdisjoint(files(cfg.out).values())  # no photo in both
    assert {k.split("/", 1)[1] for k in scenes}.isdisjoint({k.split("/", 1)[1] for k in files(cfg.out)})
    assert m["sources"]["ade20k"]["scenes"] == {"city": 2, "indoor": 2} and m["sources"]["voc2012"]["scenes"]["city"] == 0


def test_same_inputs_and_seed_give_the_same_set_and_another_seed_other_scenes(tree, built, tmp_path):
    m, cfg, _ = built
    m2, cfg2, _ = run(tree, tmp_path / "a")
    assert files(cfg2.out) == files(cfg.out) and files(cfg2.scenes_out) == files(cfg.scenes_out)
    assert m2["sources"] == m["sources"] and m2["domains"] == m["domains"]
    others = [files(run(tree, tmp_path / f"s{seed}", seed=seed)[1].scenes_out) for seed in (1, 2, 3)]
    assert any(o.keys() != files(cfg.scenes_out).keys() for o in others)


def test_a_rerun_reads_only_what_changed(tree, tmp_path):
    t = tmp_path / "tree"
    shutil.copytree(tree, t)
    m, cfg, _ = run(t, tmp_path)
    (t / "shared" / "flowers128" / "f0.jpg").unlink()
    save(t / "shared" / "flowers128" / "f9.jpg", photo(309, 128, 128))
    m2, _, logs = run(t, tmp_path)
    processed = [line for line in logs if "processed now" in line]
    assert any(line.startswith("  flowers128: 8 photos, 1 processed now") for line in processed)
    assert all(" 0 processed now" in line for line in processed if "flowers128" not in line)
    names = {p.name for p in cfg.out.rglob("*.jpg")}
    assert "f9.jpg" in names and "f0.jpg" not in names and m2["total"] == m["total"]


def test_a_bare_git_directory_gives_the_same_set_as_a_folder(tree, built, tmp_path):
    m, cfg, _ = built
    repos = tmp_path / "repos"
    for name in (ADE, CARS, VOC):
        work = tmp_path / "clone" / name
        shutil.copytree(tree / "repos" / name, work)
        git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        subprocess.run(git + ["add", "-A"], check=True)
        subprocess.run(git + ["commit", "-qm", "photos"], check=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(repos / name / "repo")], check=True)
    (tmp_path / "t").mkdir()
    shutil.copytree(tree / "shared", tmp_path / "t" / "shared")
    shutil.copytree(repos, tmp_path / "t" / "repos")
    m2, cfg2, _ = run(tmp_path / "t", tmp_path / "o")
    assert files(cfg2.out) == files(cfg.out) and files(cfg2.scenes_out) == files(cfg.scenes_out)
    assert m2["sources"]["ade20k"]["commit"] and m["sources"]["ade20k"]["commit"] is None


def test_refuses_before_writing_anything(tree, tmp_path):
    foreign = tmp_path / "v2"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not written by this recipe"):
        run(tree, tmp_path)
    assert not (tmp_path / "v2.work").exists() and [p.name for p in foreign.iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="no copy of marcusklasson/GroceryStoreDataset"):
        build(BuildConfig(out=tmp_path / "o", repos=tree / "repos", sources=("grocery",)))
    with pytest.raises(InputError, match="unknown nope"):
        build(BuildConfig(out=tmp_path / "o", sources=("nope",)))
    with pytest.raises(OutputError, match="must not be inside"):
        build(BuildConfig(out=tmp_path / "o", shared=tree / "shared", sources=("clothing",), scenes_out=tmp_path / "o" / "s"))
    with pytest.raises(OutputError, match="the cache must be outside"):
        build(BuildConfig(out=tmp_path / "o", shared=tree / "shared", sources=("clothing",), work=tmp_path / "o" / "w"))
    assert not (tmp_path / "o").exists()


def test_a_pack_of_the_data_command_is_checked_as_the_pack_command_checks_it(tree, tmp_path):
    """data --pack-side 0 built the set and then packed every photo at 1x1 pixels (pack --side 0 is refused)."""
    for extra, says in ((["--pack-side", "0"], "--pack-side 0: need --pack-mb above 0, --pack-side at least 16"),
                        (["--pack-mb", "0"], "--pack-mb 0.0 --pack-side 192: need --pack-mb above 0")):
        with pytest.raises(SystemExit, match=says):
            training_main(["data", "--shared", str(tree / "shared"), "--out", str(tmp_path / "v2"), "--sources", "clothing",
                           "--pack", str(tmp_path / "p.tar"), *extra])
    assert not (tmp_path / "v2").exists() and not (tmp_path / "p.tar").exists()


@pytest.mark.parametrize("option, value, says", [
    ("max_side", 0, "--max-side 0: must be from 96"),  # every photo written at 1x1 over the built set
    ("max_side", 50, "--max-side 50: must be from 96"),  # below the short side the recipe drops as small
    ("scenes", -1, "--scenes -1: must be from 0"),  # held out every city and indoor photo
    ("per_domain_cap", 0, "--per-domain-cap 0: must be from 1"),
    ("near_dup_bits", 65, "--near-dup-bits 65: must be from 0 to 64"),
])
def test_settings_out_of_range_are_refused_before_anything_is_read_or_written(tree, built, tmp_path, option, value, says):
    out = tmp_path / "v2"
    with pytest.raises(UsageError, match=says):
        build(BuildConfig(out=out, shared=tree / "shared", sources=("clothing",), **{option: value}))
    assert not out.exists() and not (tmp_path / "v2.work").exists()
    with pytest.raises(SystemExit, match=says):
        training_main(["data", "--shared", str(tree / "shared"), "--out", str(out), "--sources", "clothing",
                       f"--{option.replace('_', '-')}", str(value)])


def test_a_second_build_beside_the_first_does_not_empty_its_scenes(tree, built, tmp_path):
    """Helper test: the default --scenes-out is OUT/../scenes, so a trial build beside /root/vidcolor-data/v2
    emptied v2's scenes set ("6 removed"). The scenes folder's marker names its training set now."""
    _, cfg, _ = built
    before = files(cfg.scenes_out)
    assert before
    with pytest.raises(OutputError, match=r"holds the scenes set of .*v2; give this build its own --scenes-out"):
        build(BuildConfig(out=cfg.out.parent / "v3", shared=tree / "shared", sources=("clothing",), workers=1))
    assert files(cfg.scenes_out) == before


def test_cli_builds_and_reports_a_missing_input_in_one_line(tree, tmp_path, capsys):
    out = tmp_path / "v2"
    training_main(["data", "--shared", str(tree / "shared"), "--out", str(out), "--workers", "2",
                   "--sources", "clothing,flowers128", "--per-domain-cap", "4"])
    text = capsys.readouterr().out
    assert "domain" in text and "clothing" in text
    m = json.loads((out / "manifest.json").read_text())
    assert m["domains"] == {"nature": {"available": 6, "kept": 4, "sources": {"flowers128": 4}},
                            "people": {"available": 6, "kept": 4, "sources": {"clothing": 4}}}
    with pytest.raises(SystemExit, match="no copy of fmejbah/car_dataset1"):
        training_main(["data", "--repos", str(tmp_path), "--out", str(tmp_path / "x"), "--sources", "stanford_cars"])


def test_domain_cap_shares_evenly_over_sources():
    by = {"a": [f"a{i}" for i in range(10)], "b": ["b0", "b1"], "c": [f"c{i}" for i in range(50)]}
    kept = cap_domain(by, 12, 0, "d")
    assert {s: len(v) for s, v in kept.items()} == {"a": 5, "b": 2, "c": 5}
    assert cap_domain(by, 100, 0, "d") == by and cap_domain(by, 12, 0, "d") == kept


def test_scene_rules_on_class_shares():
    assert scene_from_shares({"4": 0.3, "6": 0.2, "1": 0.4}) == "indoor"  # floor, ceiling, wall
    assert scene_from_shares({2: 0.3, 3: 0.3, 7: 0.2}) == "city"  # building, sky, road
    assert scene_from_shares({7: 0.4, 3: 0.4, 5: 0.2}) == "other"  # a highway through trees: no buildings
    assert scene_from_shares({4: 0.3, 6: 0.2, 3: 0.1}) == "other"  # sky in view: not a room
    assert scene_from_shares({1: 0.5, 66: 0.05, 48: 0.03}) == "indoor"  # walls, a toilet and a sink
    assert scene_from_shares({1: 0.3, 5: 0.3, 10: 0.2}) == "other"  # a garden wall: trees and grass


def test_pack_is_balanced_bounded_and_deterministic(built, tmp_path):
    m, cfg, _ = built
    a = write_pack(cfg.out, tmp_path / "a" / "pack.tar", max_mb=0.04, short_side=64, log=lambda s: None)
    b = write_pack(cfg.out, tmp_path / "b" / "pack.tar", max_mb=0.04, short_side=64, log=lambda s: None)
    assert (tmp_path / "a" / "pack.tar").read_bytes() == (tmp_path / "b" / "pack.tar").read_bytes() and a == b
    assert (tmp_path / "a" / "pack.tar").stat().st_size <= 0.04e6
    assert 0 < a["photos"] < m["total"]
    most = max(a["domains"].values())
    assert all(a["domains"].get(d, 0) >= min(v["kept"], most - 1) for d, v in m["domains"].items())  # round-robin
    with tarfile.open(tmp_path / "a" / "pack.tar") as t:
        names = t.getnames()
        img = Image.open(io.BytesIO(t.extractfile(names[1]).read()))
    assert names[0] == "pack/manifest.json" and min(img.size) == 64
    with pytest.raises(OutputError):
        write_pack(cfg.out, cfg.out / "manifest.json")  # not a pack: never replaced


def test_a_pack_after_earlier_ones_takes_none_of_their_photos(built, tmp_path, capsys):
    """`pack --after p1.tar`: a second pack of the same set holds only photos the first does not, so a lent GPU
    that keeps both while warm trains on twice the photos; a pack of another set, or the output itself, is refused."""
    from training.__main__ import main as train_main

    _, cfg, _ = built

    def members(tar):
        with tarfile.open(tar) as t:
            return {n.split("/", 1)[1] for n in t.getnames()[1:]}

    first = write_pack(cfg.out, tmp_path / "p1.tar", max_mb=0.03, short_side=64, log=lambda s: None)
    train_main(["pack", "--from", str(cfg.out), "--out", str(tmp_path / "p2.tar"), "--mb", "0.03", "--side", "64",
                "--after", str(tmp_path / "p1.tar")])
    second = json.load(tarfile.open(tmp_path / "p2.tar").extractfile("p2/manifest.json"))
    a, b = members(tmp_path / "p1.tar"), members(tmp_path / "p2.tar")
    assert a and b and not a & b and len(b) == second["photos"]
    assert second["in_earlier_packs"] == first["photos"] and second["after"] == ["p1.tar"]
    assert f"{first['photos']} left out as in" in capsys.readouterr().out
    (tmp_path / "other").mkdir()
    with pytest.raises(OutputError, match="packs .*, not "):
        write_pack(tmp_path / "other", tmp_path / "p3.tar", after=[tmp_path / "p1.tar"], log=lambda s: None)
    with pytest.raises(OutputError, match="not a readable pack"):
        write_pack(cfg.out, tmp_path / "p3.tar", after=[cfg.out / "manifest.json"], log=lambda s: None)
    with pytest.raises(SystemExit, match="cannot be one to leave out"):
        train_main(["pack", "--from", str(cfg.out), "--out", str(tmp_path / "p2.tar"), "--after", str(tmp_path / "p2.tar")])
    assert not (tmp_path / "p3.tar").exists()


def test_pack_leaves_out_a_runs_holdout_and_lower_quality_fits_more(built, tmp_path, capsys):
    """`python -m training pack --exclude holdout.txt --quality Q`: the held-out photos stay out of a GPU
    session's pack, and a lower JPEG quality fits more photos in the same size."""
    from training.__main__ import main as train_main

    _, cfg, _ = built
    full = write_pack(cfg.out, tmp_path / "full.tar", max_mb=1.0, short_side=64, log=lambda s: None)
    with tarfile.open(tmp_path / "full.tar") as t:
        members = [n for n in t.getnames() if not n.endswith("manifest.json")]
    held = [cfg.out / n.split("/", 1)[1] for n in members[:3]]  # as a run's holdout.txt lists them: absolute paths
    (tmp_path / "holdout.txt").write_text("\n".join(map(str, held)) + "\n")
    train_main(["pack", "--from", str(cfg.out), "--out", str(tmp_path / "pack.tar"), "--mb", "1.0", "--side", "64",
                "--exclude", str(tmp_path / "holdout.txt")])
    with tarfile.open(tmp_path / "pack.tar") as t:
        names = set(t.getnames())
        manifest = json.load(t.extractfile("pack/manifest.json"))
    assert manifest["excluded"] == 3 and manifest["photos"] == full["photos"] - 3
    assert not any(f"pack/{p.relative_to(cfg.out).as_posix()}" in names for p in held)
    (tmp_path / "elsewhere.txt").write_text("/nowhere/a.jpg\n")
    train_main(["pack", "--from", str(cfg.out), "--out", str(tmp_path / "p2.tar"), "--mb", "1.0", "--side", "64",
                "--exclude", str(tmp_path / "elsewhere.txt")])
    assert "none of the 1 photos to exclude" in capsys.readouterr().out
    small = write_pack(cfg.out, tmp_path / "q.tar", max_mb=0.04, short_side=64, quality=40, log=lambda s: None)
    usual = write_pack(cfg.out, tmp_path / "u.tar", max_mb=0.04, short_side=64, log=lambda s: None)
    assert small["photos"] > usual["photos"] and small["quality"] == 40


def test_a_gpu_session_trains_on_its_pack_and_the_packs_staged_before_it(built, tmp_path):
    """training/gpu_stage.sh in one call to a warm lent GPU, training/gpu_session.sh in the next: the training
    reads the pack it carries and every staged one (one 35 MB pack was seen 130 times in 7 minutes of a GPU)."""
    _, cfg, _ = built
    repo = Path(__file__).resolve().parents[1]
    write_pack(cfg.out, tmp_path / "p1.tar", max_mb=0.03, short_side=64, log=lambda s: None)
    second = write_pack(cfg.out, tmp_path / "p2.tar", max_mb=0.03, short_side=64, after=[tmp_path / "p1.tar"], log=lambda s: None)
    env = {**os.environ, "STAGED": str(tmp_path / "staged"), "DEVICE": "cpu", "PYTHON": sys.executable}
    stage = subprocess.run(["bash", repo / "training" / "gpu_stage.sh", tmp_path / "p1.tar"], env=env, capture_output=True, text=True)
    assert stage.returncode == 0 and "staged: 1 packs" in stage.stdout, stage.stderr
    again = subprocess.run(["bash", repo / "training" / "gpu_stage.sh", tmp_path / "p1.tar"], env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "is there already" in again.stderr
    n1 = len(list((tmp_path / "staged" / "p1").rglob("*.jpg")))
    s = subprocess.run(["bash", repo / "training" / "gpu_session.sh", tmp_path / "p2.tar", "0", tmp_path / "out", "--steps", "1",
                        "--batch-size", "2", "--size", "64", "--model-args", '{"pretrained": false}', "--prior-batches", "1",
                        "--warmup", "0", "--gray-threshold", "0", "--log-every", "1"], env=env, capture_output=True, text=True, timeout=600)
    assert s.returncode == 0, s.stdout[-2000:] + s.stderr[-2000:]
    assert f"data: {n1 + second['photos']} training images" in s.stdout and "1 staged:" in s.stdout
    assert (tmp_path / "out" / "loss.csv").exists()


def test_a_pack_of_ones_own_flat_folder_keeps_each_photo_upright(tmp_path, capsys):
    """`pack --from` a folder of one's own photos, flat or one level deep, was a traceback ("not enough values
    to unpack"), and a photo stored on its side (EXIF orientation 6) was packed sideways, unlike training's reading
    of it (a researcher's find)."""
    save(tmp_path / "own" / "a.jpg", photo(1, 48, 32))
    save(tmp_path / "own" / "sub" / "b.jpg", photo(2, 48, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 48x32, displayed 32x48
    Image.fromarray(photo(3, 48, 32)).save(tmp_path / "own" / "c.jpg", exif=exif.tobytes())
    (tmp_path / "own" / "d.jpg").write_bytes(b"not a photo")
    training_main(["pack", "--from", str(tmp_path / "own"), "--out", str(tmp_path / "p.tar"), "--mb", "1", "--side", "16"])
    out = capsys.readouterr().out
    assert "d.jpg: not an image" in out and "unreadable, left out" in out
    with tarfile.open(tmp_path / "p.tar") as t:
        manifest = json.load(t.extractfile("p/manifest.json"))
        sizes = {n: Image.open(io.BytesIO(t.extractfile(n).read())).size for n in t.getnames()[1:]}
    assert manifest["photos"] == 3 and manifest["domains"] == {".": 2, "sub": 1}
    assert sizes == {"p/a.jpg": (24, 16), "p/c.jpg": (16, 24), "p/sub/b.jpg": (24, 16)}
