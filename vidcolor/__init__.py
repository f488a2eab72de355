"""vidcolor: batch colorization of videos, photos and photo archives.

    import vidcolor
    vidcolor.colorize("film.mp4")                       # -> film_color.mp4, shipped weights
    vidcolor.colorize("scans/", "scans_color/")         # photos and videos, tree mirrored
    col = vidcolor.load_colorizer(device="cuda")        # or load once and pass it in
    vidcolor.colorize("photo.jpg", colorizer=col)

Names are imported on first use (PEP 562), so `import vidcolor` and `vidcolor --help` do not load
torch or the codecs.
"""
import importlib
import os

# Torch's OpenMP workers spin while they wait for work; on a small CPU that spinning takes the cores the
# video encoder needs (measured on 2 cores: end-to-end 13.2 -> 15.5 frames/s at 720p). Passive waiting
# gives them back. It must be set before torch loads; a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_EXPORTS = {
    "colorize": "vidcolor.api", "plan": "vidcolor.api",
    "VideoOptions": "vidcolor.options", "FolderOptions": "vidcolor.options", "Result": "vidcolor.options",
    "load_colorizer": "vidcolor.weights", "Colorizer": "vidcolor.colorizer",
    "create_model": "vidcolor.models", "available_models": "vidcolor.models",
    "colorize_video": "vidcolor.pipeline", "colorize_image": "vidcolor.folder", "colorize_folder": "vidcolor.folder",
    **{name: "vidcolor.errors" for name in ("VidcolorError", "InputError", "OutputError", "UsageError", "WeightsError",
                                             "LockedError", "StorageError")},
}
_RENAMED = {"available_models": "list_models"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vidcolor' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
