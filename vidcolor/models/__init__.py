"""Colorization networks: one registry shared by the CLI, the library and training/."""
from vidcolor.models.registry import create_model, list_models, register_model
from vidcolor.models.checkpoint import load_checkpoint, save_checkpoint

# Importing the architecture files runs their @register_model entrypoints.
from vidcolor.models import cunet, eccv16, effnet_unet  # noqa: E402,F401

__all__ = ["create_model", "list_models", "register_model", "load_checkpoint", "save_checkpoint"]
