"""Device-rotation augmentation of teacher training windows (unikd/augment.py)."""

import math

import pytest
import torch

from unikd.augment import random_rotation, rotation_matrices, xyz_triplets

UCIHAR = ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z",
          "total_acc_x", "total_acc_y", "total_acc_z"]


@pytest.mark.parametrize("names, starts", [
    (UCIHAR, [0, 3, 6]),
    (["ax", "ay", "az", "temperature"], [0]),
    (["hr", "acc-X", "acc-Y", "acc-Z"], [1]),
    (["acc_x", "acc_y", "gyro_z"], []),  # axes of different sensors are not a triplet
    (["ch0", "ch1", "ch2"], []),
    (["acc_z", "acc_y", "acc_x"], []),  # not in x, y, z order
])
def test_triplets_are_found_by_channel_name(names, starts):
    assert xyz_triplets(names) == starts


def test_rotations_are_proper_and_within_the_angle():
    torch.manual_seed(0)
    r = rotation_matrices(500, 30.0)
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(500, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(500), atol=1e-5)
    angle = torch.rad2deg(torch.acos(((r.diagonal(dim1=1, dim2=2).sum(1) - 1) / 2).clamp(-1, 1)))
    assert angle.max() <= 30.0 + 1e-3 and angle.max() > 25.0  # uses the range, never exceeds it


def test_one_rotation_per_window_turns_every_triplet_alike_and_nothing_else():
    torch.manual_seed(1)
    x = torch.randn(6, 10, 32)
    torch.manual_seed(2)
    y = random_rotation(x, 45.0, [0, 3])
    assert torch.equal(y[:, 6:], x[:, 6:])  # channels outside the triplets untouched
    for t in (0, 3):  # lengths of each (x, y, z) vector kept at every time step
        assert torch.allclose(y[:, t:t + 3].norm(dim=1), x[:, t:t + 3].norm(dim=1), atol=1e-5)
    # the same rotation for both triplets of a window: solve it from one triplet, apply it to the other
    r = torch.linalg.lstsq(x[:, 0:3].transpose(1, 2), y[:, 0:3].transpose(1, 2)).solution.transpose(1, 2)
    assert torch.allclose(r @ x[:, 3:6], y[:, 3:6], atol=1e-4)
    assert not torch.allclose(r[0], r[1])  # different windows, different rotations
    torch.manual_seed(2)
    assert torch.equal(random_rotation(x, 45.0, [0, 3]), y)  # seeded: reproducible


def test_zero_degrees_changes_nothing():
    x = torch.randn(3, 9, 16)
    assert torch.allclose(random_rotation(x, 0.0, [0, 3, 6]), x)
    assert math.isclose(float(rotation_matrices(1, 0.0)[0].trace()), 3.0, rel_tol=1e-6)


# ------------------------------------------------------------------ which triplets a rotation may turn


def test_ucihar_triplets_are_all_rotated_as_before():
    from unikd.augment import rotatable_triplets

    # [0, 3, 6] is what xyz_triplets gave for UCI-HAR before the physical-sensor rule; runs stay reproducible
    assert rotatable_triplets(UCIHAR) == ([0, 3, 6], [])
    assert rotatable_triplets(UCIHAR)[0] == xyz_triplets(UCIHAR)


@pytest.mark.parametrize("names, rotate, skipped", [
    (["pos_x", "pos_y", "pos_z", "acc_x", "acc_y", "acc_z"], [3], {0: "acc/gyro/mag"}),
    (["acc_std_x", "acc_std_y", "acc_std_z", "MagX", "MagY", "MagZ"], [3], {0: "rescaled per axis (std)"}),
    (["ax", "ay", "az", "gx", "gy", "gz"], [0, 3], {}),
])
def test_only_triplets_named_as_physical_sensors_are_rotated(names, rotate, skipped):
    from unikd.augment import rotatable_triplets

    got_rotate, got_skipped = rotatable_triplets(names)
    assert got_rotate == rotate
    assert [t for t, _ in got_skipped] == list(skipped)
    for (_, why), fragment in zip(got_skipped, skipped.values()):
        assert fragment in why


def test_rotation_augment_on_ucihar_draws_and_turns_as_before():
    from unikd.train import rotation_augment

    x = torch.randn(5, 9, 16, generator=torch.Generator().manual_seed(3))
    augment, note = rotation_augment(30.0, "teacher_rotate_degrees", UCIHAR)
    torch.manual_seed(7)
    got = augment(x)
    torch.manual_seed(7)
    assert torch.equal(got, random_rotation(x, 30.0, [0, 3, 6]))  # same draws, same triplets as before
    assert note == "random rotation up to 30 degrees of body_acc, body_gyro, total_acc"


def test_rotation_augment_leaves_non_sensor_triplets_alone_and_says_so():
    from unikd.train import rotation_augment

    names = ["pos_x", "pos_y", "pos_z", "gyro_x", "gyro_y", "gyro_z"]
    x = torch.randn(4, 6, 16, generator=torch.Generator().manual_seed(4))
    with pytest.warns(UserWarning, match="teacher_rotate_degrees=30: rotating gyro; pos skipped: not named as an accelerometer"):
        augment, note = rotation_augment(30.0, "teacher_rotate_degrees", names)
    assert "pos skipped" in note and note.startswith("random rotation up to 30 degrees of gyro (")
    y = augment(x)
    assert torch.equal(y[:, :3], x[:, :3]) and not torch.equal(y[:, 3:], x[:, 3:])
    with pytest.warns(UserWarning, match="student_rotate_degrees=30: no x/y/z triplet of a physical sensor"):
        augment, note = rotation_augment(30.0, "student_rotate_degrees", names[:3])
    assert augment is None and note.startswith("none (no x/y/z triplet of a physical sensor (pos skipped")
