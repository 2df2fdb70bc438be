"""A scenario = (data set, source domain, target domain) with the AdaTime split of each domain:
source train part (labelled), target train part (unlabelled during adaptation), target test part (scoring only)."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np

from unikd.data.base import DataError, WindowSet

# The paper's UCI-HAR scenarios: 5 main, then 5 additional.
PAPER_SCENARIOS: dict[str, list[tuple[int, int]]] = {
    "ucihar": [(2, 11), (7, 13), (12, 16), (9, 18), (6, 23), (18, 27), (20, 5), (24, 8), (28, 27), (30, 20)],
}
DEFAULT_SCENARIO = ("ucihar", 2, 11)
# Fewest windows a domain's train part may have: below this a batch cannot hold both domains' statistics
# (BatchNorm, the domain classifier) and a score would rest on a handful of windows.
MIN_TRAIN_WINDOWS = 8


@dataclass(frozen=True)
class Scenario:
    dataset: str
    source: int
    target: int

    @property
    def id(self) -> str:
        return f"{self.dataset}_{self.source}to{self.target}"

    @property
    def label(self) -> str:
        return f"{self.source}->{self.target}"


@dataclass
class Part:
    X: np.ndarray  # float32 (N, C, L)
    y: np.ndarray  # int64 (N,)
    rows: np.ndarray  # row indices into the WindowSet

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class ScenarioData:
    scenario: Scenario
    source_train: Part
    target_train: Part  # labels kept only for the target-supervised reference and for diagnostics
    target_test: Part
    windows: WindowSet

    @property
    def class_names(self) -> list[str]:
        return self.windows.class_names

    def fingerprint(self) -> str:
        """A digest of the windows and labels this scenario trains and scores on: the identity of the data in
        cache and resume keys (the same path may hold other data tomorrow; other paths may hold the same)."""
        h = hashlib.sha256()
        for part in (self.source_train, self.target_train, self.target_test):
            h.update(np.ascontiguousarray(part.X, np.float32).tobytes())
            h.update(np.ascontiguousarray(part.y, np.int64).tobytes())
        h.update("\0".join(self.windows.class_names + self.windows.channel_names).encode())
        return h.hexdigest()[:16]


def parse_scenario(text: str) -> tuple[int, int]:
    """'2->11', '2to11' or '2,11' -> (2, 11)."""
    for sep in ("->", "to", ","):
        if sep in text:
            a, b = text.split(sep, 1)
            try:
                return int(a), int(b)
            except ValueError:
                break
    raise DataError(f"cannot read scenario {text!r}; write it as SOURCE->TARGET, for example 2->11")


def scenario_data(ws: WindowSet, source: int, target: int) -> ScenarioData:
    valid = ws.domains()
    for role, d in (("source", source), ("target", target)):
        if d not in valid:
            raise DataError(f"unknown {role} domain {d} in data set {ws.name}; valid domains: {valid}")

    if source == target:
        warnings.warn(f"source and target are the same domain ({source}): the score measures accuracy on held-out "
                      f"windows of the training subject, not adaptation to a new one", stacklevel=2)

    def part(domain: int, split: int, what: str, least: int) -> Part:
        rows = ws.rows(domain, split)
        if len(rows) < least:
            raise DataError(f"{ws.name}: domain {ws.domain_label(domain)} has {len(rows)} window(s) in its {what} "
                            f"part; at least {least} are needed")
        return Part(ws.X[rows], ws.y[rows], rows)

    data = ScenarioData(
        scenario=Scenario(ws.name, source, target),
        source_train=part(source, 0, "train", MIN_TRAIN_WINDOWS),
        target_train=part(target, 0, "train", MIN_TRAIN_WINDOWS),
        target_test=part(target, 1, "test", 1),
        windows=ws,
    )
    present = np.unique(data.source_train.y)
    if len(present) < 2:
        raise DataError(f"{ws.name}: the train part of source domain {ws.domain_label(source)} holds only class "
                        f"{ws.class_names[int(present[0])]!r}; a classifier needs at least 2 classes")
    missing = [ws.class_names[k] for k in range(ws.num_classes) if k not in present]
    if missing:
        warnings.warn(f"{ws.name}: source domain {ws.domain_label(source)} has no training window of class(es) "
                      f"{', '.join(missing)}; the student cannot learn them from labels", stacklevel=2)
    return data
