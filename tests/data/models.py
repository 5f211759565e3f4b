"""PyTorch models for the import tests."""

import torch
from torch import nn


def two_layers():
    """Two Linear+ReLU layers of the same shape: one fused operator, weight 2."""
    return nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # Python control flow on a tensor's value: torch.export cannot trace it
            return x * 2
        return x


data_dependent = DataDependent()


class Unconvertible(nn.Module):
    def forward(self, x):
        return torch.erfinv(x)  # no converter in TVM's PyTorch frontend


unconvertible = Unconvertible()

not_a_model = 42
