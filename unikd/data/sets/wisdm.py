"""WISDM activity prediction v1.1 (Kwapisz et al., 2011), AdaTime's preprocessing: 36 users as domains,
3 accelerometer axes at 20 Hz, 128-sample windows, 6 activities.

Class ids follow the alphabetical order of WISDM's activity labels (Downstairs, Jogging, Sitting, Standing, Upstairs,
Walking), as found for AdaTime's HHAR files (see hhar.py), not the order of `class_names` in AdaTime's
configs/data_model_configs.py (walk, jog, sit, stand, upstairs, downstairs). Not yet checked on WISDM windows: no
copy of AdaTime's WISDM files was available (docs/data.md)."""

from unikd.data import DATASETS
from unikd.data.adatime import AdaTimeDataset


@DATASETS.register("wisdm")
class WISDM(AdaTimeDataset):
    name = "wisdm"
    summary = "WISDM phone accelerometer (AdaTime format), 36 users, 6 activities, 3 channels at 20 Hz"
    folders = ("wisdm", "WISDM")
    class_names = ["downstairs", "jog", "sit", "stand", "upstairs", "walk"]
    channels_hint = 3
    channel_names = ["acc_x", "acc_y", "acc_z"]
    sample_rate_hz = 20.0
    source_hint = "Get AdaTime's preprocessed WISDM files (github.com/emadeldeen24/AdaTime, 'Datasets')."
