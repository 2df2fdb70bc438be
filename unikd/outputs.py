"""Folders the tool writes (run directories, teachers, builds, HIL reports, sweep summaries): checked before the
work starts, written whole or not at all, and never put in place of something the tool did not create.

    check_output(path, kind)      before the work: path is absent, an empty folder, or a folder of that kind that
                                  this tool wrote earlier (it will be replaced); its parent can be written
    with atomic_dir(path, kind) as tmp:
        ...write into tmp...      a temporary sibling; removed on any error, Ctrl-C or SIGTERM
                                  at the end: the completion marker is written last, then tmp replaces path

The marker (`.unikd-mcu.json`) names the kind and lists every file with its size, so a reader can tell a complete
folder from one that was cut short or had a file deleted since (`verify_complete`); a sweep resumes only runs
that pass it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from unikd.errors import UserError

MARKER = ".unikd-mcu.json"

# What each kind of folder holds. A folder without a marker whose entries are all among these names was written by
# a version of the tool from before markers, and may be replaced like a marked one.
KNOWN_ENTRIES = {
    "run": {"config.json", "model.json", "normaliser.json", "source_normaliser.json", "student.pt", "history.csv",
            "metrics.json", "confusion.png"},
    "teacher": {"teacher.pt", "teacher.json"},
    "build": {"model.tflite", "metadata.json", "model", "arduino", "platformio", "make", "README.md", "report.md",
              "report.json", "hil"},
    "hil report": {"hil_report.json", "hil_report.md", "hil_confusion.png"},
    "sweep summary": {"results.csv", "summary.md", "summary.json", "summary.png"},
    "tune result": {"best.yaml", "trials.csv", "summary.json", "tune.png"},
}


class OutputError(UserError):
    """An output path the tool must not or cannot write."""


def _marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def check_output(path, kind: str) -> None:
    """Refuse, before any work, an output the tool would have to put in place of something it did not create, or
    one it cannot write. Never deletes anything itself."""
    path = Path(path)
    if kind not in KNOWN_ENTRIES:
        raise ValueError(f"unknown output kind {kind!r}")
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputError(f"output {path} is a file, not a folder: give a folder path for the {kind} "
                              f"(the file is left as it is)")
        entries = sorted(p.name for p in path.iterdir())
        marker = _marker(path)
        if marker is not None and marker.get("kind") != kind:
            raise OutputError(f"output folder {path} holds a unikd-mcu {marker.get('kind')}, not a {kind}: "
                              f"choose another folder")
        foreign = [e for e in entries if e != MARKER and e not in KNOWN_ENTRIES[kind]]
        if marker is None and foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputError(f"output folder {path} already holds files unikd-mcu did not write ({shown}); "
                              f"choose another folder, or empty it yourself: unikd-mcu never deletes what it "
                              f"did not create")
    check_writable(path.parent, f"output {path}")


def check_writable(folder, what: str | None = None) -> None:
    """`folder` exists as a writable folder or can be created (its nearest existing ancestor is one)."""
    folder = Path(folder)
    what = what or f"folder {folder}"
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"cannot create {what}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what}: no write permission in {ancestor}")


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER}


@contextlib.contextmanager
def atomic_dir(final, kind: str):
    """Yield a temporary folder beside `final`; on success it gets the completion marker and replaces `final`
    (checked again, in case something appeared there meanwhile); on any error it is removed."""
    final = Path(final)
    check_output(final, kind)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    except OSError as e:
        raise OutputError(f"cannot write output {final}: {e}") from None
    try:
        yield tmp
        (tmp / MARKER).write_text(json.dumps({"kind": kind, "files": _listing(tmp)}, indent=1) + "\n")
        check_output(final, kind)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def verify_complete(folder, kind: str) -> str | None:
    """None when `folder` holds a complete output of this kind as the tool wrote it, else what is wrong."""
    folder = Path(folder)
    marker = _marker(folder)
    if marker is None:
        return f"no completion marker ({MARKER}): it was cut short, or not written by this version of unikd-mcu"
    if marker.get("kind") != kind:
        return f"it holds a {marker.get('kind')}, not a {kind}"
    # files are only required to be there: a user may well edit a JSON file of a run by hand
    missing = [f for f in marker.get("files", {}) if not (folder / f).is_file()]
    return f"missing {', '.join(missing)}" if missing else None
