"""Texture descriptor network, Gram matrices and texture losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from proxymat import features as feats
from proxymat.features import (
    ALL_LAYERS,
    STYLE_LAYERS,
    TextureFeatures,
    feature_loss,
    find_vgg19_weights,
    gram,
    gram_descriptor,
    style_loss,
)

# torchvision vgg19 ``features`` conv indices and widths, written out independently of the module.
VGG_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256), 14: (256, 256),
             16: (256, 256), 19: (256, 512), 21: (512, 512), 23: (512, 512), 25: (512, 512), 28: (512, 512),
             30: (512, 512), 32: (512, 512), 34: (512, 512)}  # fmt: skip


@pytest.fixture(scope="module")
def rand_feats() -> TextureFeatures:
    return TextureFeatures("random")


def _fake_vgg_state(dtype=torch.float32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    state = {}
    for idx, (c_in, c_out) in VGG_CONVS.items():
        state[f"features.{idx}.weight"] = (torch.randn(c_out, c_in, 3, 3, generator=g) * 0.05).to(dtype)
        state[f"features.{idx}.bias"] = (torch.randn(c_out, generator=g) * 0.1).to(dtype)
    state["classifier.0.weight"] = torch.zeros(2, 2)  # must be ignored
    return state


def _expected_relu1_1(state: dict[str, torch.Tensor], img: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (img.expand(-1, 3, -1, -1) - mean) / std
    w, b = state["features.0.weight"].float(), state["features.0.bias"].float()
    return F.relu(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), w, b))


# ------------------------------------------------------------------ random default
def test_default_features_are_deterministic_across_instances(rand_feats):
    other = TextureFeatures("random")
    x = torch.rand(2, 1, 32, 32)
    a, b = rand_feats(x), other(x)
    assert rand_feats.backbone == "random"
    assert set(a) == set(ALL_LAYERS)
    for name in ALL_LAYERS:
        assert torch.equal(a[name], b[name])


def test_default_layer_shapes_and_unit_scale(rand_feats):
    out = rand_feats(torch.rand(1, 3, 64, 64))
    assert out["relu1_1"].shape[-1] == 64 and out["relu2_2"].shape[-1] == 32 and out["relu5_1"].shape[-1] == 4
    # calibrated: no layer's activations collapse with depth
    scales = [out[n].square().mean().sqrt().item() for n in STYLE_LAYERS]
    assert min(scales) > 0.1 and max(scales) < 10


def test_gray_input_equals_repeated_rgb(rand_feats):
    x = torch.rand(1, 1, 32, 32)
    a, b = rand_feats(x, ["relu3_1"]), rand_feats(x.repeat(1, 3, 1, 1), ["relu3_1"])
    assert torch.allclose(a["relu3_1"], b["relu3_1"])


def test_features_pass_gradients_but_have_no_trainable_params(rand_feats):
    x = torch.rand(1, 1, 32, 32, requires_grad=True)
    rand_feats(x, ["relu4_2"])["relu4_2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in rand_feats.parameters())


def test_unknown_layer_and_bad_shape_are_rejected(rand_feats):
    with pytest.raises(ValueError, match="unknown random feature layer"):
        rand_feats(torch.rand(1, 1, 16, 16), ["relu9_9"])
    with pytest.raises(ValueError, match=r"\['relu1_2'\]"):  # a VGG-only layer
        rand_feats(torch.rand(1, 1, 16, 16), ["relu1_2"])
    with pytest.raises(ValueError, match="expected"):
        rand_feats(torch.rand(1, 2, 16, 16))


# ------------------------------------------------------------------------- gram
def test_gram_hand_value():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    assert torch.allclose(gram(f), torch.tensor([[[2.5, 5.5], [5.5, 12.5]]]))


def test_gram_is_symmetric_psd():
    g = gram(torch.randn(3, 6, 5, 7))
    assert torch.allclose(g, g.transpose(1, 2))
    assert torch.linalg.eigvalsh(g.double()).min() > -1e-6


def test_style_and_feature_losses(rand_feats):
    x, y = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32).pow(4)
    fx, fy = rand_feats(x), rand_feats(y)
    assert style_loss(fx, fx).item() == 0 and feature_loss(fx, fx).item() == 0
    assert style_loss(fx, fy).item() > 0 and feature_loss(fx, fy).item() > 0


def test_loss_layer_weights_hand_value():
    a = {"l1": torch.ones(1, 1, 2, 2), "l2": torch.zeros(1, 2, 1, 1)}
    b = {"l1": torch.zeros(1, 1, 2, 2), "l2": torch.zeros(1, 2, 1, 1)}
    # gram(a.l1) = [[1]], gram(b.l1) = [[0]] -> |diff| = 1; l2 contributes 0
    assert style_loss(a, b, ["l1", "l2"], [3.0, 5.0]).item() == pytest.approx(3.0)
    assert style_loss(a, b, ["l1", "l2"]).item() == pytest.approx(0.5)
    assert feature_loss(a, b, ["l1", "l2"], {"l1": 2.0, "l2": 1.0}).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="2 layer weights for 1 layers"):
        style_loss(a, b, ["l1"], [1.0, 2.0])


def test_gram_descriptor_size_and_shift_invariance(rand_feats):
    torch.manual_seed(0)
    x = F.avg_pool2d(torch.rand(1, 1, 66, 66), 3, 1)[..., :64, :64]
    d = gram_descriptor(x, rand_feats, scales=(1.0, 0.5))
    sizes = [rand_feats(x, [n])[n].shape[1] ** 2 for n in STYLE_LAYERS]
    assert d.shape == (1, 2 * sum(sizes))
    rolled = gram_descriptor(torch.roll(x, (32, -32), dims=(2, 3)), rand_feats, scales=(1.0, 0.5))
    assert ((rolled - d).norm() / d.norm()).item() < 1e-4
    odd = gram_descriptor(torch.roll(x, (1, 3), dims=(2, 3)), rand_feats, scales=(1.0, 0.5))
    assert ((odd - d).norm() / d.norm()).item() < 0.1  # pooling grid moves: only approximately invariant


def test_gram_descriptor_rejects_tiny_images(rand_feats):
    with pytest.raises(ValueError, match="too small"):
        gram_descriptor(torch.rand(1, 1, 32, 32), rand_feats, scales=(1.0, 0.25))


# ------------------------------------------------------------------------- VGG19
def test_vgg19_from_pth_state_dict(tmp_path):
    state = _fake_vgg_state()
    path = tmp_path / "vgg19-test.pth"
    torch.save(state, path)
    net = TextureFeatures(path)
    assert net.backbone == "vgg19"
    img = torch.rand(1, 1, 32, 32)
    out = net(img, ["relu1_1", "relu5_1"])
    assert torch.allclose(out["relu1_1"], _expected_relu1_1(state, img), atol=1e-5)
    assert out["relu5_1"].shape == (1, 512, 2, 2)


def test_vgg19_from_safetensors_and_missing_tensor_error(tmp_path):
    from safetensors.torch import save_file

    state = _fake_vgg_state(torch.float16)
    state.pop("classifier.0.weight")
    save_file(state, str(tmp_path / "vgg.safetensors"))
    net = TextureFeatures(tmp_path / "vgg.safetensors")
    img = torch.rand(1, 3, 16, 16)
    assert torch.allclose(net(img, ["relu1_1"])["relu1_1"], _expected_relu1_1(state, img), atol=1e-4)
    del state["features.34.weight"]
    save_file(state, str(tmp_path / "broken.safetensors"))
    with pytest.raises(ValueError, match="missing 1 tensors, e.g. features.34.weight"):
        TextureFeatures(tmp_path / "broken.safetensors")


def test_vgg19_unreadable_file_errors(tmp_path):
    bad = tmp_path / "vgg19-bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read VGG19 weights"):
        TextureFeatures(bad)
    with pytest.raises(ValueError, match="not found"):
        TextureFeatures(tmp_path / "absent.pth")


def test_hub_cache_lookup_never_downloads(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("attempted a download")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    assert find_vgg19_weights() is None
    assert TextureFeatures("auto").backbone == "random"
    (tmp_path / "checkpoints").mkdir()
    target = tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth"
    target.write_bytes(b"x")
    assert find_vgg19_weights() == target
    assert feats.STRIDE["vgg19"] == 16
