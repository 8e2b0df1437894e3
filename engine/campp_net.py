"""The CAM++ speaker-embedding network (Wang et al., 2023, arXiv:2303.00332).

Written here from the paper and the published layer sizes of 3D-Speaker's
``campplus`` recipe (Apache-2.0) so that its released state dict loads by name:
a 2-D residual front end (``head``) over 80-band log-mel frames, a densely connected
TDNN with context-aware masking (``xvector.blockN.tdnndN``), statistics pooling and
a 192-dim projection. Only inference is supported (batch-norm in eval mode).

The network sees 80-band Kaldi filterbanks at 100 frames/s (mean-normalised per
utterance) and runs its TDNN at 50 frames/s, which is why it costs about a quarter
of ECAPA-TDNN per second of audio on a CPU (bench/bench_identify.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

SEGMENT_FRAMES = 100
"""Frames (at 50/s) of the local context averaged by each masking layer."""


def _bn_relu(channels: int) -> nn.Sequential:
    seq = nn.Sequential()
    seq.add_module("batchnorm", nn.BatchNorm1d(channels))
    seq.add_module("relu", nn.ReLU())
    return seq


class _ResBlock2d(nn.Module):
    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels, channels, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class _Head(nn.Module):
    """(B, 80, T) filterbanks -> (B, 320, T): frequency is reduced 8x by strided 2-D convs."""

    def __init__(self, channels: int = 32, bands: int = 80) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(_ResBlock2d(channels, 2), _ResBlock2d(channels, 1))
        self.layer2 = nn.Sequential(_ResBlock2d(channels, 2), _ResBlock2d(channels, 1))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (bands // 8)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        y = self.layer2(self.layer1(y))
        y = F.relu(self.bn2(self.conv2(y)))
        return y.flatten(1, 2)


class _Tdnn(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.nonlinear = _bn_relu(cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.nonlinear(self.linear(x))


class _MaskedConv(nn.Module):
    """Context-aware masking: a local conv gated by utterance + segment averages."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__()
        pad = (kernel - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(cin, cin // 2, 1)
        self.linear2 = nn.Conv1d(cin // 2, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        frames = x.shape[-1]
        seg = F.avg_pool1d(x, SEGMENT_FRAMES, SEGMENT_FRAMES, ceil_mode=True)
        seg = seg.repeat_interleave(SEGMENT_FRAMES, dim=-1)[..., :frames]
        context = x.mean(-1, keepdim=True) + seg
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return self.linear_local(x) * gate


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bottleneck: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = _bn_relu(cin)
        self.linear1 = nn.Conv1d(cin, bottleneck, 1, bias=False)
        self.nonlinear2 = _bn_relu(bottleneck)
        self.cam_layer = _MaskedConv(bottleneck, growth, kernel, dilation)

    def forward(self, x: Tensor) -> Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _DenseBlock(nn.Module):
    def __init__(self, layers: int, cin: int, growth: int, kernel: int, dilation: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(
                f"tdnnd{i + 1}", _DenseLayer(cin + i * growth, growth, 4 * growth, kernel, dilation)
            )

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _Transit(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.nonlinear = _bn_relu(cin)
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.nonlinear(x))


class _StatsPool(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        # written out (not Tensor.std) so that the ONNX export keeps the ranks
        mean = x.mean(dim=2, keepdim=True)
        var = ((x - mean) ** 2).sum(dim=2) / (x.shape[2] - 1)
        return torch.cat([mean.squeeze(2), torch.sqrt(var)], dim=1)


class _Embedding(nn.Module):
    def __init__(self, cin: int, dim: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(cin, dim, 1, bias=False)
        self.nonlinear = nn.Sequential()
        self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(dim, affine=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """CAM++: ``(batch, frames, 80)`` mean-normalised log-mel -> ``(batch, 192)`` embeddings.

    ``frames`` must be at least 2 (statistics pooling takes a standard deviation).
    """

    def __init__(self, bands: int = 80, dim: int = 192) -> None:
        super().__init__()
        self.head = _Head(bands=bands)
        channels = 128
        self.xvector = nn.Sequential()
        self.xvector.add_module("tdnn", _Tdnn(self.head.out_channels, channels, 5, stride=2))
        for i, (layers, dilation) in enumerate(((12, 1), (24, 2), (16, 2)), start=1):
            self.xvector.add_module(f"block{i}", _DenseBlock(layers, channels, 32, 3, dilation))
            channels += layers * 32
            self.xvector.add_module(f"transit{i}", _Transit(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _bn_relu(channels))
        self.xvector.add_module("stats", _StatsPool())
        self.xvector.add_module("dense", _Embedding(channels * 2, dim))

    def forward(self, feats: Tensor) -> Tensor:
        return self.xvector(self.head(feats.transpose(1, 2)))
