"""WISDM activity prediction v1.1 (Kwapisz et al., 2011), AdaTime's preprocessing: 36 users as domains,
3 accelerometer axes at 20 Hz, 128-sample windows, 6 activities (names and order as in AdaTime's configuration)."""

from unikd.data import DATASETS
from unikd.data.adatime import AdaTimeDataset


@DATASETS.register("wisdm")
class WISDM(AdaTimeDataset):
    name = "wisdm"
    summary = "WISDM phone accelerometer (AdaTime format), 36 users, 6 activities, 3 channels at 20 Hz"
    folders = ("wisdm", "WISDM")
    class_names = ["walk", "jog", "sit", "stand", "upstairs", "downstairs"]
    channels_hint = 3
    channel_names = ["acc_x", "acc_y", "acc_z"]
    sample_rate_hz = 20.0
    source_hint = "Get AdaTime's preprocessed WISDM files (github.com/emadeldeen24/AdaTime, 'Datasets')."
