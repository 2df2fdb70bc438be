"""SSC: sleep stage classification from Sleep-EDF as preprocessed by AdaTime (its "EEG" folder): 20 subjects as
domains, 1 EEG channel (Fpz-Cz) at 100 Hz, 30-s epochs of 3000 samples, 5 stages."""

from unikd.data import DATASETS
from unikd.data.adatime import AdaTimeDataset


@DATASETS.register("ssc")
class SSC(AdaTimeDataset):
    name = "ssc"
    summary = "SSC sleep stages from EEG (AdaTime format), 20 subjects, 5 stages, 1 channel at 100 Hz"
    folders = ("ssc", "EEG", "SSC")
    class_names = ["W", "N1", "N2", "N3", "REM"]
    channels_hint = 1
    channel_names = ["eeg_fpz_cz"]
    sample_rate_hz = 100.0
    source_hint = "Get AdaTime's preprocessed EEG (SSC) files (github.com/emadeldeen24/AdaTime, 'Datasets')."
