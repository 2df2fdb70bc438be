"""Random device-orientation changes of training windows (never at test time or on the device).

A wearable sits a little differently on every wearer, so the same movement reaches its accelerometer and gyroscope
turned by some angle. Showing the teacher each training window turned by a random rotation teaches it features that
do not depend on that angle; on UCI-HAR this lifts the DANN teacher by about 3 points (docs/benchmarks.md). One
rotation per window is applied alike to every (x, y, z) triplet that `rotatable_triplets` accepts as the axes of a
physical sensor (acc/gyro/mag names); other x/y/z-looking triplets are left alone and reported. The transform uses torch's
global generator, which the trainer seeds, so a run stays reproducible.
"""

from __future__ import annotations

import math
import re

import torch

_AXIS = re.compile(r"^(.*?)[_\-. ]?([xyz])$", re.IGNORECASE)


def xyz_triplets(channel_names: list[str]) -> list[int]:
    """Start indices of consecutive channels named <sensor>_x, <sensor>_y, <sensor>_z (any of '_-. ' or nothing
    before the axis letter, any case): the channels a rotation may turn."""
    starts, i = [], 0
    while i + 2 < len(channel_names):
        parts = [_AXIS.match(str(n)) for n in channel_names[i:i + 3]]
        if all(parts) and [p.group(2).lower() for p in parts] == ["x", "y", "z"] \
                and len({p.group(1) for p in parts}) == 1:
            starts.append(i)
            i += 3
        else:
            i += 1
    return starts


# A rotation only means something for axes of one physical vector sensor in its own units. Which triplets are
# such axes is decided from the sensor part of the names: a token naming an accelerometer, gyroscope or
# magnetometer (or the one-letter forms of ax/ay/az, gx/gy/gz, mx/my/mz), and no token saying the values were
# rescaled per axis (standardised axes are no longer one vector, so turning them mixes unrelated scales).
_PHYSICAL = re.compile(r"^(a|g|m|acc\w*|gyr\w*|mag\w*)$")
_RESCALED = {"norm", "normalised", "normalized", "std", "standardised", "standardized", "zscore", "scaled"}


def rotatable_triplets(channel_names: list[str]) -> tuple[list[int], list[tuple[int, str]]]:
    """(starts of the x/y/z triplets a rotation turns, [(start, why not)] of the x/y/z triplets it leaves alone).
    The first list is `xyz_triplets` minus the skipped ones, in the same order."""
    rotate, skipped = [], []
    for t in xyz_triplets(channel_names):
        tokens = [w for w in re.split(r"[^a-z0-9]+", sensor_name(channel_names[t]).lower()) if w]
        rescaled = sorted(_RESCALED.intersection(tokens))
        if rescaled:
            skipped.append((t, f"named as rescaled per axis ({', '.join(rescaled)})"))
        elif not any(_PHYSICAL.match(w) for w in tokens):
            skipped.append((t, "not named as an accelerometer, gyroscope or magnetometer (acc/gyro/mag)"))
        else:
            rotate.append(t)
    return rotate, skipped


def sensor_name(channel_name: str) -> str:
    """'body_acc_x' -> 'body_acc': the sensor part of an axis channel's name."""
    m = _AXIS.match(str(channel_name))
    return m.group(1) if m else str(channel_name)


def rotation_matrices(n: int, max_degrees: float) -> torch.Tensor:
    """n random rotations (n, 3, 3), each about a uniformly random axis by an angle uniform in +-max_degrees
    (Rodrigues' formula R = I + sin(a) K + (1 - cos(a)) K^2, with K the axis' cross-product matrix)."""
    axis = torch.nn.functional.normalize(torch.randn(n, 3), dim=1)
    angle = (torch.rand(n) * 2 - 1) * math.radians(max_degrees)
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    s, c = angle.sin()[:, None, None], angle.cos()[:, None, None]
    return torch.eye(3).expand(n, 3, 3) + s * k + (1 - c) * (k @ k)


def random_rotation(x: torch.Tensor, max_degrees: float, triplets: list[int]) -> torch.Tensor:
    """(N, C, L) windows, each turned by its own random rotation; the channels triplets[i] .. triplets[i] + 2 of
    every triplet are turned together, other channels are left as they are."""
    r = rotation_matrices(x.shape[0], max_degrees)
    out = x.clone()
    for t in triplets:
        out[:, t:t + 3] = r @ x[:, t:t + 3]
    return out
