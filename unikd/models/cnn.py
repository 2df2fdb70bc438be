"""The 1-D CNN backbone of AdaTime / UNI-KD: three conv blocks, global average pooling, a linear classifier.

Block: Conv1d (no bias) -> BatchNorm1d -> ReLU -> MaxPool1d(2, 2, padding=1) -> Dropout.
Block 1 uses kernel `kernel_size` (5 for UCI-HAR/HHAR/WISDM) with 'same' padding; blocks 2 and 3 use kernel 8,
padding 4 (length grows by one, as in the reference networks). On UCI-HAR (9 channels, 6 classes) the teacher
(64/128/128) has 200,902 parameters and the student (16/32/32) 13,366.

The deploy path (codegen/) mirrors exactly this structure in Keras; change one, change the other.
"""

from __future__ import annotations

import torch
from torch import nn

from unikd.models import MODELS


class ConvBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride=1, padding=padding, bias=False)
        self.bn = nn.BatchNorm1d(out_ch)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(kernel_size=2, stride=2, padding=1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.relu(self.bn(self.conv(x)))))


class Classifier(nn.Module):
    """A feature extractor and a linear head; `features(x)` is what distillation losses look at."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.num_classes = num_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.backbone(x)
        return f, self.head(f)


class CNNBackbone(nn.Module):
    def __init__(self, in_channels: int, widths: tuple[int, int, int], kernel_size: int, dropout: float):
        super().__init__()
        self.widths = tuple(widths)
        self.kernel_size = kernel_size
        c1, c2, c3 = widths
        self.blocks = nn.Sequential(
            ConvBlock(in_channels, c1, kernel_size, kernel_size // 2, dropout),
            ConvBlock(c1, c2, 8, 4, dropout),
            ConvBlock(c2, c3, 8, 4, dropout),
        )
        self.pool = nn.AdaptiveAvgPool1d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.blocks(x)).flatten(1)


def _cnn(in_channels: int, num_classes: int, widths, kernel_size: int = 5, dropout: float = 0.5) -> Classifier:
    backbone = CNNBackbone(in_channels, widths, kernel_size, dropout)
    return Classifier(backbone, widths[-1], num_classes)


@MODELS.register("cnn-teacher")
def cnn_teacher(in_channels: int, num_classes: int, kernel_size: int = 5, dropout: float = 0.5) -> Classifier:
    return _cnn(in_channels, num_classes, (64, 128, 128), kernel_size, dropout)


@MODELS.register("cnn-student")
def cnn_student(in_channels: int, num_classes: int, kernel_size: int = 5, dropout: float = 0.5) -> Classifier:
    return _cnn(in_channels, num_classes, (16, 32, 32), kernel_size, dropout)
