"""Video hints follow what they were placed on, and do not stay behind or leak onto an occluder."""
import cv2
import numpy as np
import torch

from vidcolor.hint_tracking import HintTracker
from vidcolor.hints import HintPoint, Hints, VideoHints


def _frame(t, h=96, w=128, square_x0=20, speed=2, occluder_x=None):
    rng = np.random.default_rng(0)

    def texture(shape, lo, span):
        t = cv2.GaussianBlur(rng.random(shape), (0, 0), 2)
        return lo + span * (t - t.min()) / (t.max() - t.min())

    img = texture((h, w), 10, 40)  # smooth texture: something for the flow to follow
    x = square_x0 + speed * t
    img[30:60, x:x + 30] = texture((30, 30), 60, 30)  # a brighter textured square, the same texture every frame
    if occluder_x is not None:
        ox = occluder_x(t)
        img[:, ox:ox + 16] = 5  # a dark bar passing in front
    return torch.from_numpy(img.astype(np.float32))[None, None]


def _run(frames):
    hints = VideoHints({0: Hints((HintPoint(35, 45, (40.0, 30.0), 3),))})
    tracker = HintTracker(hints, work_size=96)
    return [tracker(i, f, tuple(f.shape[-2:])) for i, f in enumerate(frames)]


def test_a_hint_moves_with_its_square_and_leaves_the_background():
    maps = _run([_frame(t) for t in range(11)])
    last = maps[-1][0, 2]
    ys, xs = np.nonzero(last.numpy())
    assert len(xs) > 20  # most of the 7x7 patch survived ten frames
    assert abs(xs.mean() - (35 + 20)) <= 2 and abs(ys.mean() - 45) <= 2  # moved 20 px with the square
    assert last[42:49, 32:39].sum() == 0  # nothing left where the square was at frame 0
    assert torch.allclose(maps[-1][0, :2, ys[0], xs[0]] * 110, torch.tensor([40.0, 30.0]), atol=1e-4)


def test_a_hint_is_not_painted_onto_what_passes_in_front():
    bar = lambda t: 60 - 6 * t  # noqa: E731  enters from the right, crosses the hint at about t = 5
    maps = _run([_frame(t, speed=0, occluder_x=bar) for t in range(8)])
    for t, m in enumerate(maps):
        if m is None:
            continue
        ox = bar(t)
        assert m[0, 2, :, max(0, ox + 2):ox + 14].sum() == 0, f"hint on the occluder at frame {t}"


def test_hints_end_at_a_scene_cut():
    hints = VideoHints({0: Hints((HintPoint(35, 45, (40.0, 30.0), 3),))})
    tracker = HintTracker(hints, work_size=96)
    f = _frame(0)
    assert tracker(0, f, (96, 128)) is not None
    tracker.reset()
    assert tracker(1, f, (96, 128)) is None
