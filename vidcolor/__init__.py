"""vidcolor: batch colorization of videos, photos and photo archives.

    import vidcolor
    col = vidcolor.load_colorizer()            # shipped weights, CUDA when present
    vidcolor.colorize_video("film.mp4", "film_color.mp4", col)
    vidcolor.colorize_folder("scans/", "scans_color/", col)
"""
import os

# Torch's OpenMP workers spin while they wait for work; on a small CPU that spinning takes the cores the
# video encoder needs (measured on 2 cores: end-to-end 13.2 -> 15.5 frames/s at 720p). Passive waiting
# gives them back. It must be set before torch loads; a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from vidcolor.colorizer import Colorizer  # noqa: E402
from vidcolor.errors import InputError, LockedError, OutputError, VidcolorError, WeightsError  # noqa: E402
from vidcolor.models import create_model, list_models as available_models  # noqa: E402
from vidcolor.pipeline import VideoOptions, colorize_folder, colorize_image, colorize_video  # noqa: E402
from vidcolor.weights import load_colorizer  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "Colorizer", "VideoOptions", "load_colorizer", "available_models", "create_model",
    "colorize_video", "colorize_image", "colorize_folder",
    "VidcolorError", "InputError", "OutputError", "WeightsError", "LockedError",
]
