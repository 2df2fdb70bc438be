import torch

from unikd.models import build_model, count_parameters


def test_parameter_counts_match_the_paper_on_ucihar():
    assert count_parameters(build_model("cnn-teacher", 9, 6)) == 200_902
    assert count_parameters(build_model("cnn-student", 9, 6)) == 13_366


def test_shapes_follow_the_data():
    net = build_model("cnn-student", 3, 5).eval()
    f, z = net.forward_with_features(torch.zeros(4, 3, 206))
    assert f.shape == (4, 32) and z.shape == (4, 5)


def test_unknown_model_lists_valid_names():
    import pytest

    from unikd.errors import UserError

    with pytest.raises(UserError, match="unknown model 'cnn-huge'; valid models: cnn-student, cnn-teacher"):
        build_model("cnn-huge", 9, 6)
