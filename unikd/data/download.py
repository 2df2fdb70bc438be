"""Fetching the official UCI-HAR archive: download (short timeout), sha256 check, unpack into a temporary folder
next to the destination, then one rename, so a failure at any step leaves nothing half-written.

Checksums: UCI publishes none. The pinned values below are the ones that independent public projects which pin
this archive agree on (outer zip from the URL below; the inner 'UCI HAR Dataset.zip', which is also what the
old machine-learning-databases/00240 URL and several mirrors serve). A zip matching either is accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from unikd.data.base import DataError
from unikd.data.ucihar_archive import ARCHIVE_DIR, PARTS, SIGNALS

URL = "https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip"
KNOWN_SHA256 = {
    "c00b803081a5c797cd5e4b83700a9810b38d53d9d84e01917e090e1fdbc81031": (61005872, "UCI download (outer zip)"),
    "2045e435c955214b38145fb5fa00776c72814f01b203fec405152dac7d5bfeb0": (60999314, "'UCI HAR Dataset.zip' (inner zip)"),
}
DEFAULT_TIMEOUT_S = 15.0
PROVENANCE = "download.json"  # written next to the unpacked folder: url, size, sha256, time


class DownloadError(DataError):
    """The archive could not be fetched, verified or unpacked; nothing was left behind."""


def _by_hand(dest: Path) -> str:
    return (
        f"To install it by hand, download {URL} on a machine with internet access, then either run "
        f"`unikd-mcu data download ucihar --from-zip FILE --data-dir {dest.parent.parent}` or unpack it (and the "
        f"'{ARCHIVE_DIR}.zip' inside it) so that {dest / 'train' / 'Inertial Signals'} exists."
    )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, out: Path, timeout: float, dest: Path, progress: Callable[[int], None] | None = None) -> None:
    """Stream `url` to `out`. Network failures become one DownloadError that says where to put files by hand."""
    request = urllib.request.Request(url, headers={"User-Agent": "unikd-mcu"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp, open(out, "wb") as f:
            done = 0
            while block := resp.read(1 << 20):
                f.write(block)
                done += len(block)
                if progress:
                    progress(done)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}. {_by_hand(dest)}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot reach {url.split('/')[2]} ({reason}); this machine seems to have no internet access "
            f"(timeout {timeout:g} s). {_by_hand(dest)}"
        ) from None


def _extract(zip_path: Path, out: Path) -> None:
    """Unpack, refusing members that would land outside `out` (absolute paths, '..')."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            base = out.resolve()
            for info in zf.infolist():
                if info.filename.startswith("__MACOSX/"):
                    continue  # macOS resource forks shipped inside the UCI zip
                target = (base / info.filename).resolve()
                if not target.is_relative_to(base):
                    raise DownloadError(
                        f"{zip_path}: refused to unpack member {info.filename!r} (outside the target folder)"
                    )
                zf.extract(info, out)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{zip_path}: not a valid zip file ({e})") from None


def _find_root(folder: Path, depth: int = 0) -> Path:
    """The unpacked `UCI HAR Dataset` folder, unpacking an inner zip (UCI's download nests one) when needed."""
    if (folder / ARCHIVE_DIR / "train").is_dir():
        return folder / ARCHIVE_DIR
    inner = sorted(folder.glob("*.zip"))
    if depth == 0 and len(inner) == 1:
        out = folder / "inner"
        out.mkdir()
        _extract(inner[0], out)
        return _find_root(out, depth + 1)
    found = sorted(p.name for p in folder.iterdir())
    raise DownloadError(f"the zip does not contain a '{ARCHIVE_DIR}/train' folder (found {found})")


def _check_complete(root: Path) -> None:
    for part in PARTS:
        needed = [root / part / f"{k}_{part}.txt" for k in ("y", "subject")]
        needed += [root / part / "Inertial Signals" / f"{s}_{part}.txt" for s in SIGNALS]
        missing = [str(p.relative_to(root)) for p in needed if not p.is_file()]
        if missing:
            raise DownloadError(f"the archive lacks {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")


def download_ucihar(
    data_dir: Path,
    url: str = URL,
    timeout: float = DEFAULT_TIMEOUT_S,
    from_zip: Path | None = None,
    known_sha256: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Install the official archive at `<data_dir>/ucihar/UCI HAR Dataset`; return that folder."""
    known = KNOWN_SHA256 if known_sha256 is None else known_sha256
    data_dir = Path(data_dir)
    dest = data_dir / "ucihar" / ARCHIVE_DIR
    if dest.is_dir():
        return dest
    if from_zip is not None and not Path(from_zip).is_file():
        raise DownloadError(f"zip not found: looked for {from_zip}")
    # remember which folders we create, so a failure removes them again
    created = [p for p in (data_dir, dest.parent) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=dest.parent))
    try:
        zip_path = Path(from_zip) if from_zip is not None else tmp / "archive.zip"
        if from_zip is None:
            fetch(url, zip_path, timeout, dest, progress)
        digest, size = sha256_of(zip_path), zip_path.stat().st_size
        if digest not in known:
            expected = "; ".join(f"{h} ({what}{f', {n} bytes' if n else ''})" for h, (n, what) in known.items())
            raise DownloadError(
                f"{from_zip or url}: sha256 {digest} ({size} bytes) matches no known UCI-HAR archive; expected "
                f"{expected}. The file may be truncated or altered; nothing was unpacked."
            )
        unpacked = tmp / "unpacked"
        unpacked.mkdir()
        _extract(zip_path, unpacked)
        root = _find_root(unpacked)
        _check_complete(root)
        os.rename(root, dest)  # same file system (tmp is a sibling), so this is atomic
        info = {"url": url if from_zip is None else str(from_zip), "bytes": size, "sha256": digest,
                "unpacked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (dest.parent / PROVENANCE).write_text(json.dumps(info, indent=2) + "\n")
        return dest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in reversed(created):
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
