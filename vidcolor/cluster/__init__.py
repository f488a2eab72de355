"""Colorizing on a Ray cluster: `vidcolor INPUT -o OUTPUT --ray auto|HOST:PORT`, or `colorize_on_ray`.

The driver (this process) plans the work, holds the output lock and writes the journal; actors on
the cluster's nodes hold the model and read inputs from, and write outputs to, storage that every
node sees at the same path. A folder of photos goes through Ray Data (photos.py); a film is split at
its scene cuts into ranges colorized as segments and joined here (film.py). Needs the `ray` extra.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from vidcolor.cluster.runtime import ClusterError, Pool, RayOptions, connect, plan_pool
from vidcolor.errors import InputError
from vidcolor.options import FolderOptions, Result, VideoOptions, run_options

if TYPE_CHECKING:  # the pipeline (torch) is imported when a run starts: the CLI checks a --ray address
    from vidcolor.colorizer import Colorizer  # through this package first, and took 6 s to refuse a bad one
    from vidcolor.pipeline import Progress

__all__ = ["ClusterError", "Pool", "RayOptions", "colorize_on_ray", "plan_pool"]


def colorize_on_ray(src: str | Path, dst: str | Path, colorizer: Colorizer, ray_opts: RayOptions | None = None,
                    video: VideoOptions | None = None, folder: FolderOptions | None = None,
                    on_result: Callable[[Result], None] | None = None, progress: Progress | None = None,
                    video_progress: Callable[[Path, int], Progress | None] | None = None) -> list[Result]:
    """Colorize a folder of photos or a video on a Ray cluster, with the same journal, skips, outputs and
    Results as the one-machine functions. `colorizer` is the driver's copy (on the CPU); its network is
    shipped to the workers through Ray's object store, so they need no weights file of their own. A
    single photo and a dry run need no cluster and run here. A folder's videos go to the cluster one after
    another, each split into ranges as a single video is (`video` options; `video_progress(path, index)`
    as `colorize_folder` takes it), except a video with a hints file, which runs here (hints are carried
    from their keyframe, across ranges the cluster colorizes apart) and says so."""
    src, dst = Path(src), Path(dst)
    ray_opts = ray_opts or RayOptions()
    video, folder = run_options(video or VideoOptions(), folder or FolderOptions())  # a dry run is the whole run's
    results: list[Result] = []

    def emit(res: Result) -> None:
        results.append(res)
        if on_result:
            on_result(res)

    from vidcolor.folder import colorize_folder, colorize_image
    from vidcolor.io.images import is_image_path
    from vidcolor.pipeline import colorize_video

    if not src.exists():
        raise InputError(f"{src}: file not found")
    if src.is_file() and is_image_path(src):
        emit(colorize_image(src, dst, colorizer, folder))
        return results
    if (folder if src.is_dir() else video).dry_run:
        if src.is_dir():
            colorize_folder(src, dst, colorizer, folder, on_result=emit, video=video)
        else:
            emit(colorize_video(src, dst, colorizer, video))
        return results
    with connect(ray_opts.address, ray_opts.num_cpus) as ray:
        pool = plan_pool(ray.cluster_resources(), ray_opts.device, ray_opts.cpus_per_worker, ray_opts.max_workers)
        if src.is_dir():
            from vidcolor.cluster.photos import RayPhotos

            from vidcolor.cluster.film import colorize_video_on_ray

            def on_cluster(s: Path, d: Path, col: Colorizer, opts: VideoOptions, progress=None, hints=None, folder_run=False) -> Result:
                if not hints:
                    return colorize_video_on_ray(ray, pool, s, d, col, opts, progress, folder_run=folder_run)
                res = colorize_video(s, d, col, opts, progress=progress, hints=hints, folder_run=folder_run)
                res.notes.append("ran on this machine, not on the cluster: video hints are carried from their keyframe, "
                                 "and the cluster colorizes a film's ranges apart")
                return res

            # the folder's videos too (a review found them run here, on the CPU, with default options)
            colorize_folder(src, dst, colorizer, folder, on_result=emit, video=video, video_progress=video_progress,
                            run_images=RayPhotos(ray, pool), run_video=on_cluster)
        else:
            from vidcolor.cluster.film import colorize_video_on_ray

            emit(colorize_video_on_ray(ray, pool, src, dst, colorizer, video, progress))
    return results
