"""from_torch: PyTorch modules exported by torch.onnx (torch 1.13, opset 17) load into SpikeFormer and
give PyTorch's outputs within 1e-4 on a batch of several inputs."""
import gc
import os

import numpy as np
import pytest

import spikeformer as sf
from conftest import DATA

torch = pytest.importorskip("torch")
nn = torch.nn


class Attention(nn.Module):
    """Multi-head self-attention written out: Linear q/k/v, MatMul, Softmax, MatMul."""

    def __init__(self, dim, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        B, N, D = x.shape
        hd = D // self.h
        q = self.q(x).reshape(B, N, self.h, hd).transpose(1, 2)
        k = self.k(x).reshape(B, N, self.h, hd).transpose(1, 2)
        v = self.v(x).reshape(B, N, self.h, hd).transpose(1, 2)
        p = torch.softmax(q @ k.transpose(-2, -1) / hd ** 0.5, dim=-1)
        return self.o((p @ v).transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    """Pre-norm encoder layer: x + attn(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, dim, heads, attention):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = attention
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True) if attention == "mha" else Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        y = self.n1(x)
        x = x + (self.attn(y, y, y, need_weights=False)[0] if self.attention == "mha" else self.attn(y))
        return x + self.mlp(self.n2(x))


class TinyViT(nn.Module):
    """Patch embedding (Conv 7x7 stride 7 on 28x28: 16 patches), CLS token, position table, two
    encoder layers, LayerNorm, classification head on the CLS token."""

    def __init__(self, attention="encoder-layer", dim=32, depth=2, heads=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, 7, 7)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
        if attention == "encoder-layer":  # torch's own layer (nn.MultiheadAttention inside)
            self.layers = nn.ModuleList([nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                                                    norm_first=True) for _ in range(depth)])
        else:
            self.layers = nn.ModuleList([Block(dim, heads, attention) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x)[:, 0])


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def check(module, batch=6):
    torch.manual_seed(1)
    x = torch.rand(batch, 1, 28, 28)
    module.eval()
    m = sf.from_torch(module, x[:2])             # traced on 2 samples, run on 6: the batch axis is free
    with torch.no_grad():
        want = module(x).numpy()
    got = m.run(x.numpy())
    assert got.shape == want.shape == (batch, 10)
    assert np.abs(got - want).max() < 1e-4, np.abs(got - want).max()
    return m


@pytest.mark.parametrize("attention", ["encoder-layer", "mha", "explicit"])
def test_vit(attention):
    torch.manual_seed(0)
    m = check(TinyViT(attention))
    layers = m.analyze()
    # fused by SpikeFormer's passes: attention (MatMul, Softmax, MatMul), erf GELU, MatMul + bias
    assert {"Conv", "Attention", "LayerNormalization", "Gelu", "Linear"} <= {layer["op"] for layer in layers}
    assert all(layer["spiking"] != "unsupported" for layer in layers)


def test_mlp():
    torch.manual_seed(0)
    check(mlp())


def test_numpy_example_and_names():
    torch.manual_seed(0)
    m = sf.from_torch(mlp(), np.zeros((1, 1, 28, 28), np.float32), input_names=["pixels"], output_names=["logits"], name="torch-mlp")
    assert m.name == "torch-mlp" and m.inputs[0]["name"] == "pixels" and m.inputs[0]["shape"][0] == -1 and m.outputs == ["logits"]


def test_convert_torch_model_outlives_its_file(tmp_path):
    """The exported file lives as long as the Model or a model converted from it (save embeds it)."""
    torch.manual_seed(0)
    m = sf.from_torch(TinyViT("explicit"), torch.rand(2, 1, 28, 28))
    path = m.source
    assert os.path.exists(path)
    snn = sf.convert(m, DATA, timesteps=4, calib_samples=64)
    m.close()
    del m
    gc.collect()
    assert os.path.exists(path)
    snn.save(str(tmp_path / "tiny.sfm"))
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    assert np.array_equal(sf.load(str(tmp_path / "tiny.sfm")).run(x), snn.run(x))
    del snn
    gc.collect()
    assert not os.path.exists(path)
