"""FD: machine fault diagnosis from the Paderborn bearing data as preprocessed by AdaTime: 4 operating
conditions as domains, 1 vibration channel, 5120-sample windows, 3 classes (healthy, two damage types)."""

from unikd.data import DATASETS
from unikd.data.adatime import AdaTimeDataset


@DATASETS.register("fd")
class FD(AdaTimeDataset):
    name = "fd"
    summary = "FD bearing fault diagnosis (AdaTime format), 4 operating conditions, 3 classes, 1 channel"
    folders = ("fd", "FD")
    class_names = ["Healthy", "D1", "D2"]
    channels_hint = 1
    channel_names = ["vibration"]
    source_hint = "Get AdaTime's preprocessed FD files (github.com/emadeldeen24/AdaTime, 'Datasets')."
