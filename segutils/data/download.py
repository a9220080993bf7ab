"""Downloads that can be trusted: checksum verified, cached, complete or absent, safely extracted.

``keras.utils.get_file`` does the transfer, the progress bar and the SHA-256 check. This module
adds only what it lacks for multi-gigabyte course datasets:

* **Complete or absent.** ``get_file`` writes straight to the final name, so a session that dies
  mid-transfer leaves a partial file that the next call takes as cached when no checksum is
  known. Here the transfer goes to ``NAME.part`` and is renamed only once complete and checked.
* **A failed checksum removes the file and says so** (``get_file`` raises but keeps it).
* **Cache hits without re-hashing gigabytes**: a small stamp ``NAME.sha256`` is written after a
  complete transfer; ``get_file`` hashes the whole archive again on every call.
* **No network** gives an error naming the URL and where to put the file by hand.
* **Extraction refuses the whole archive** when any member would land outside the target folder
  (absolute path, ``..``, a link pointing out, a device file). ``get_file(extract=True)`` skips
  such members with a warning and extracts the rest.

Command line: ``python -m segutils download NAME [--root DIR] [--with sbd]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

from segutils.data.convert import bullet_list
from segutils.data.datasets import (
    DatasetSpec,
    RemoteFile,
    available,
    get_spec,
    locate,
    resolve_root,
)
from segutils.errors import DatasetError

#: Subfolder of a dataset root for the archives.
DOWNLOADS = "downloads"
#: Subfolder of a dataset root for the "extracted completely" stamps.
STAMPS = ".segutils"


def say(message: str) -> None:
    print(message, flush=True)


def sha256sum(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in 1 MiB pieces (archives are larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_stamp(path: Path, sha256: str, verified: bool, url: str | None) -> None:
    doc = {"sha256": sha256, "size": path.stat().st_size, "verified": verified, "url": url}
    _stamp(path).write_text(json.dumps(doc) + "\n")


def _cached(path: Path, remote: RemoteFile) -> bool:
    """A stamp that matches the file's size (and the expected hash): nothing to re-hash."""
    try:
        doc = json.loads(_stamp(path).read_text())
        return (path.is_file() and doc["size"] == path.stat().st_size
                and (remote.sha256 is None or doc["sha256"] == remote.sha256))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _unverified(path: Path, sha256: str) -> None:
    say(f"SHA-256 of {path.name}: {sha256}\n  This file could not be verified: no published "
         "checksum is recorded for it. Compare the hash with a trusted source if you can.")


def _by_hand(remote: RemoteFile, final: Path) -> str:
    return (f"check the internet connection and run again; or download {remote.url} yourself "
            f"(a browser works), save it as {final}, and run again: the file is then checked "
            "and used")


def _check_space(remote: RemoteFile, folder: Path) -> None:
    if remote.size and shutil.disk_usage(folder).free < remote.size:
        free = shutil.disk_usage(folder).free / 1e9
        raise DatasetError(folder, f"{remote.filename} needs {remote.size / 1e9:.1f} GB, only "
                           f"{free:.1f} GB are free", "free some space or pass another --root")


def _transfer(url: str, part: Path, sha256: str | None, progress: bool) -> None:
    """One attempt with keras.utils.get_file into ``part``; raises ValueError on a bad hash."""
    from segutils.config import import_quietly

    keras = import_quietly()
    was_on = keras.config.is_interactive_logging_enabled()
    if not progress:
        keras.config.disable_interactive_logging()
    try:
        # An absolute cache_subdir is used as it is (also when get_file would fall back to /tmp).
        keras.utils.get_file(fname=part.name, origin=url, file_hash=sha256,
                             hash_algorithm="sha256", cache_dir=str(part.parent),
                             cache_subdir=str(part.parent.resolve()), force_download=True)
    finally:
        if was_on:
            keras.config.enable_interactive_logging()


def fetch(remote: RemoteFile, folder: str | Path, *, progress: bool = True) -> Path:
    """``folder/remote.filename``, downloaded and verified unless it is there already.

    A file already in ``folder`` (from an earlier run, or put there by hand) is used when its
    checksum matches; with no known checksum its hash is printed as unverified.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / remote.filename
    if _cached(final, remote):
        say(f"{remote.filename}: already downloaded ({final})")
        return final
    if final.is_file():  # placed by hand, or from a run before stamps existed
        actual = sha256sum(final)
        if remote.sha256 is not None and actual != remote.sha256:
            raise DatasetError(final, f"SHA-256 is {actual}, expected {remote.sha256}: the file "
                               "is incomplete or not the expected version",
                               f"delete {final} and run again (or download it again by hand)")
        _write_stamp(final, actual, remote.sha256 is not None, remote.url)
        if remote.sha256 is None:
            _unverified(final, actual)
        return final
    if remote.url is None:
        raise DatasetError(final, f"{remote.filename} cannot be downloaded automatically",
                           f"download it by hand and save it as {final}")
    _check_space(remote, folder)
    part = final.with_name(final.name + ".part")
    failures, mismatch = [], False
    for url in (remote.url, *remote.mirrors):
        part.unlink(missing_ok=True)  # a leftover of a killed run is never resumed or trusted
        try:
            _transfer(url, part, remote.sha256, progress)
        except Exception as err:  # get_file turns URL and HTTP errors into plain Exceptions
            if isinstance(err, ValueError) and remote.sha256 and part.is_file():
                # get_file's hash check failed after a complete transfer; it keeps the file.
                actual, mismatch = sha256sum(part), True
                failures.append(f"{url}: checksum mismatch (SHA-256 {actual}, expected "
                                f"{remote.sha256}); the downloaded file was removed")
            else:
                failures.append(f"{url}: {err}; nothing was kept")
            part.unlink(missing_ok=True)
            continue
        break
    else:
        raise DatasetError(
            final, f"download of {remote.filename} failed:\n" + bullet_list(failures),
            "run again: a corrupted transfer is not kept; if the checksum fails again, the "
            "server's file has changed: report it" if mismatch else _by_hand(remote, final))
    actual = remote.sha256 or sha256sum(part)
    os.replace(part, final)
    _write_stamp(final, actual, remote.sha256 is not None, url)
    if remote.sha256 is None:
        _unverified(final, actual)
    return final


# --- extraction ---------------------------------------------------------------------------------


def _inside(path: str, target: str) -> bool:
    return path == target or path.startswith(target.rstrip(os.sep) + os.sep)


def _member_problem(name: str, target: str, links: set[str], kind: str = "file",
                    linkname: str = "") -> str | None:
    """Why a member may not be extracted into ``target`` (a resolved path), or None."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "absolute path"
    dest = os.path.normpath(os.path.join(target, name))
    if not _inside(dest, target):
        return "path leaves the target folder"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    through = [p for i in range(1, len(parts)) if (p := "/".join(parts[:i])) in links]
    if through:
        return f"written through the link {through[0]}"
    if kind == "symlink":
        pointed = os.path.normpath(os.path.join(os.path.dirname(dest), linkname))
        if not _inside(pointed, target):
            return f"symbolic link to {linkname} points outside"
    if kind == "hardlink" and not _inside(os.path.normpath(os.path.join(target, linkname)),
                                          target):
        return f"hard link to {linkname} points outside"
    if kind == "device":
        return "device or pipe file"
    return None


def _tar_problems(tar: tarfile.TarFile, target: str) -> list[str]:
    problems, links = [], set()
    for m in tar.getmembers():
        kind = ("symlink" if m.issym() else "hardlink" if m.islnk() else
                "device" if m.isdev() else "file")
        why = _member_problem(m.name, target, links, kind, m.linkname)
        if why:
            problems.append(f"{m.name}: {why}")
        if m.issym() or m.islnk():
            links.add(str(PurePosixPath(m.name)))
    return problems


def safe_extract(archive: str | Path, target: str | Path) -> int:
    """Extract a tar (any compression) or zip archive into ``target``; returns the member count.

    Every member is checked before anything is written: when any would land outside ``target``
    the whole archive is refused with a :class:`~segutils.errors.DatasetError` listing them.
    Tar archives are extracted with Python's ``"data"`` filter where available, which checks
    again on the disk as it writes.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(target)
    if tarfile.is_tarfile(archive):
        opened, kind = tarfile.open(archive), "tar"
    elif zipfile.is_zipfile(archive):
        opened, kind = zipfile.ZipFile(archive), "zip"
    else:
        raise DatasetError(archive, "not a tar or zip archive", f"delete {archive} and download "
                           "it again")
    with opened:
        if kind == "tar":
            problems = _tar_problems(opened, real)
        else:
            problems = [f"{i.filename}: {why}" for i in opened.infolist()
                        if (why := _member_problem(i.filename, real, set()))]
        if problems:
            raise DatasetError(archive, f"refusing to extract into {target}: {len(problems)} "
                               f"unsafe member(s):\n{bullet_list(problems)}",
                               "this is not the archive the dataset publishes (damaged or "
                               "tampered with): delete it and download it again from the "
                               "official address")
        try:
            if kind == "tar" and hasattr(tarfile, "data_filter"):
                opened.extractall(target, filter="data")
            else:
                opened.extractall(target)
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
            raise DatasetError(archive, f"extraction failed ({err})",
                               f"delete {archive} and run the download again") from err
        return len(opened.getmembers() if kind == "tar" else opened.infolist())


def download(
    name: str | DatasetSpec,
    root: str | Path | None = None,
    *,
    extras: Iterable[str] = (),
    keep_archives: bool = True,
    progress: bool = True,
) -> Path:
    """Download, verify and extract a dataset into ``root``; returns the dataset folder.

    Skips what is already there: a dataset found on disk (extracted by hand, too) is not
    downloaded, an archive extracted by an earlier run not again. ``extras`` names optional parts
    (``"sbd"`` for ``voc2012``). Datasets behind a login (Cityscapes) raise an error with the
    steps to take, and extract zips placed in ``root/downloads`` by hand.
    """
    spec = get_spec(name)
    root = resolve_root(spec, root)
    extras = set(extras)
    groups = {f.group for f in spec.files if f.group}
    if extras - groups:
        raise DatasetError(None, f"{spec.title} has no optional part {sorted(extras - groups)}",
                           f"optional parts: {', '.join(sorted(groups)) or 'none'}")
    root.mkdir(parents=True, exist_ok=True)
    downloads = root / DOWNLOADS
    have_main = available(spec, root)
    for remote in spec.files:
        stamp = root / STAMPS / f"{remote.filename}.extracted"
        if remote.group is not None and remote.group not in extras:
            continue
        if stamp.is_file() or (remote.group is None and have_main):
            continue
        folder = downloads
        if remote.url is None and not (downloads / remote.filename).is_file():
            if not (root / remote.filename).is_file():  # zips may also lie in the root itself
                raise DatasetError(downloads / remote.filename, f"{spec.title} cannot be "
                                   "downloaded automatically",
                                   spec.manual.format(root=root, downloads=downloads))
            folder = root
        archive = fetch(remote, folder, progress=progress)
        say(f"Extracting {archive.name} into {root} ...")
        safe_extract(archive, root)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(json.dumps({"archive": remote.filename}) + "\n")
        if not keep_archives:
            archive.unlink()
            _stamp(archive).unlink(missing_ok=True)
    base = locate(spec, root)
    say(f"{spec.title} is ready in {base}")
    return base
