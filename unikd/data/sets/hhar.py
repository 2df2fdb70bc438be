"""HHAR (Stisen et al., 2015), AdaTime's Samsung-device subset: 9 users as domains, 3 accelerometer axes,
128-sample windows, 6 activities.

Class ids in AdaTime's HHAR_SA files follow the alphabetical order of HHAR's activity labels, not the order of
`class_names` in AdaTime's configs/data_model_configs.py (bike, sit, stand, walk, stairs_up, stairs_down): in the
real files only classes 1 and 4 are stationary (mean within-window std about 0.05 against 0.5-1.0 for the others),
which fits sit and stand at 1 and 4 (docs/data.md)."""

from unikd.data import DATASETS
from unikd.data.adatime import AdaTimeDataset


@DATASETS.register("hhar")
class HHAR(AdaTimeDataset):
    name = "hhar"
    summary = "HHAR smartphone accelerometer (AdaTime format), 9 users, 6 activities, 3 channels"
    folders = ("hhar", "HHAR_SA", "HHAR")
    class_names = ["bike", "sit", "stairs_down", "stairs_up", "stand", "walk"]
    channels_hint = 3
    channel_names = ["acc_x", "acc_y", "acc_z"]
    source_hint = "Get AdaTime's preprocessed HHAR files (github.com/emadeldeen24/AdaTime, 'Datasets')."
