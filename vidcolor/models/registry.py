"""One registry for every colorization network, shared by the CLI, the library and training/.

Each architecture file ends with `@register_model` entrypoints; `create_model(name, **kwargs)` is the
one front door (after timm).
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch.nn as nn

from vidcolor.errors import UsageError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(UsageError, ValueError):
    """A name no architecture is registered under: the library's UsageError, and a ValueError as the
    models' other argument errors are. It was a KeyError, whose message printed in quotes."""


def _known(name: str) -> None:
    if name not in _MODELS:
        raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(list_models())}")


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_defaults(name: str) -> dict:
    """The keyword arguments a registered architecture takes by default (its entrypoint's signature):
    `{"hints": true}` and `{"hints": true, "encoder": "lite0"}` name the same network."""
    _known(name)
    return {k: p.default for k, p in inspect.signature(_MODELS[name]).parameters.items()
            if p.default is not inspect.Parameter.empty}


def create_model(name: str, **kwargs) -> nn.Module:
    """Build an architecture by registered name. An unknown name raises UnknownModelError (a UsageError and a
    ValueError) naming it and the known ones."""
    _known(name)
    model = _MODELS[name](**kwargs)
    model.arch_name = name
    model.model_args = dict(kwargs)
    return model
