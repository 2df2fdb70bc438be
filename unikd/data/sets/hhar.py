"""HHAR (Stisen et al., 2015), AdaTime's Samsung-device subset: 9 users as domains, 3 accelerometer axes,
128-sample windows, 6 activities (class names and order as in AdaTime's configuration)."""

from unikd.data import DATASETS
from unikd.data.adatime import AdaTimeDataset


@DATASETS.register("hhar")
class HHAR(AdaTimeDataset):
    name = "hhar"
    summary = "HHAR smartphone accelerometer (AdaTime format), 9 users, 6 activities, 3 channels"
    folders = ("hhar", "HHAR_SA", "HHAR")
    class_names = ["bike", "sit", "stand", "walk", "stairs_up", "stairs_down"]
    channels_hint = 3
    channel_names = ["acc_x", "acc_y", "acc_z"]
    source_hint = "Get AdaTime's preprocessed HHAR files (github.com/emadeldeen24/AdaTime, 'Datasets')."
