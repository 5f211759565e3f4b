"""Small built-in PyTorch models (random weights: timing does not depend on them).

Each entry: a zero-argument factory and the input shape(s) it expects. Their tasks
(``msgym tasks --from-torch resnet-block``) join the ``models`` task set.
"""

from __future__ import annotations

from collections.abc import Callable


def resnet_block():
    """A ResNet basic block: conv3x3-BN-ReLU, conv3x3-BN, identity shortcut, ReLU."""
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, channels: int = 64):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU()

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + x)

    return BasicBlock().eval()


def mobilenet_block():
    """A MobileNet depthwise-separable block: depthwise 3x3-BN-ReLU6, pointwise 1x1-BN-ReLU6."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU6(),
        nn.Conv2d(32, 64, 1, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU6(),
    ).eval()


def transformer_layer():
    """A transformer encoder layer: d_model 128, 4 heads, feed-forward 256, sequence 64."""
    from torch import nn

    return nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, dropout=0.0, batch_first=True).eval()


BUILTIN_MODELS: dict[str, tuple[Callable, list[tuple[int, ...]]]] = {
    "resnet-block": (resnet_block, [(1, 64, 28, 28)]),
    "mobilenet-block": (mobilenet_block, [(1, 32, 56, 56)]),
    "transformer-layer": (transformer_layer, [(1, 64, 128)]),
}
