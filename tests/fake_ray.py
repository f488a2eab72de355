"""An in-process stand-in for the few pieces of Ray that vidcolor.cluster uses (`ray.data.from_items(...)
.map_batches(ActorClass, ...).iter_rows()`, `cluster_resources`), so that the driver's own logic (locks,
journal, refusals, what runs where) is tested without starting a cluster; tests/test_cluster.py runs the
real thing. The actors run here, one at a time, in order."""
from __future__ import annotations

import contextlib
import types

import numpy as np


class _Dataset:
    def __init__(self, items):
        self.items = list(items)

    def map_batches(self, actor_class, batch_size=1, fn_constructor_kwargs=None, **_):
        return _Mapped(self.items, actor_class, batch_size, fn_constructor_kwargs or {})


class _Mapped:
    def __init__(self, items, actor_class, batch_size, kwargs):
        self.items, self.actor_class, self.batch_size, self.kwargs = items, actor_class, batch_size, kwargs

    def iter_rows(self):
        actor = self.actor_class(**self.kwargs)
        for i in range(0, len(self.items), self.batch_size):
            chunk = self.items[i:i + self.batch_size]
            out = actor({k: np.array([r[k] for r in chunk], dtype=object) for k in chunk[0]})
            for j in range(len(next(iter(out.values())))):
                yield {k: v[j] for k, v in out.items()}


RAY = types.SimpleNamespace(
    data=types.SimpleNamespace(from_items=lambda items, **_: _Dataset(items),
                               ActorPoolStrategy=lambda size=1, **_: types.SimpleNamespace(size=size)),
    cluster_resources=lambda: {"CPU": 1})


@contextlib.contextmanager
def connect(address=None, num_cpus=None):
    yield RAY


def install(monkeypatch) -> None:
    """Route vidcolor.cluster's connection to the stand-in for one test."""
    import vidcolor.cluster as cluster

    monkeypatch.setattr(cluster, "connect", connect)
