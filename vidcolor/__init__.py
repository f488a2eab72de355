"""vidcolor: batch colorization of videos, photos and photo archives.

    import vidcolor
    col = vidcolor.load_colorizer()            # shipped weights, CUDA when present
    vidcolor.colorize_video("film.mp4", "film_color.mp4", col)
    vidcolor.colorize_folder("scans/", "scans_color/", col)
"""
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError, LockedError, OutputError, VidcolorError, WeightsError
from vidcolor.models import create_model, list_models as available_models
from vidcolor.pipeline import VideoOptions, colorize_folder, colorize_image, colorize_video
from vidcolor.weights import load_colorizer

__version__ = "0.1.0"
__all__ = [
    "Colorizer", "VideoOptions", "load_colorizer", "available_models", "create_model",
    "colorize_video", "colorize_image", "colorize_folder",
    "VidcolorError", "InputError", "OutputError", "WeightsError", "LockedError",
]
