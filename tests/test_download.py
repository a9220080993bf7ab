"""Tests of segutils.data.download, end to end against archives served by a local HTTP server.

The server is a threading ``http.server`` on 127.0.0.1 started by a fixture (sockets time out,
the server is shut down at the end). Nothing here contacts the internet: every URL points at
that server or at a closed local port.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segutils.cli.download import add_arguments as add_download_arguments
from segutils.data import datasets, load_dataset
from segutils.data.datasets import DATASETS, RemoteFile, available, dataset_pairs
from segutils.data.download import DOWNLOADS, download, fetch, safe_extract
from segutils.errors import DatasetError


class _Handler(BaseHTTPRequestHandler):
    timeout = 5  # a stuck client cannot hold a server thread for long

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.server.hits.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # /cut/...: the connection drops half way, as when a session dies mid-transfer.
        self.wfile.write(body[: len(body) // 2] if self.path.startswith("/cut/") else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)  # urlretrieve takes no timeout; bound it this way
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.hits = {}, []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)
    socket.setdefaulttimeout(previous)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _png(array, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


NAMES = ["Abyssinian_100", "Abyssinian_101", "beagle_1"]
TRIMAP = np.array([[1, 1, 2, 2], [3, 3, 2, 1], [2, 2, 2, 2]], np.uint8)


def pet_archives() -> dict[str, bytes]:
    """images.tar.gz and annotations.tar.gz laid out as the real ones."""
    rng = np.random.default_rng(0)
    images = {f"images/{n}.jpg": _png(rng.integers(0, 256, (3, 4, 3)), "JPEG") for n in NAMES}
    ann = {f"annotations/trimaps/{n}.png": _png(TRIMAP) for n in NAMES}
    ann["annotations/trainval.txt"] = "".join(f"{n} 1 1 1\n" for n in NAMES[:2]).encode()
    ann["annotations/test.txt"] = f"{NAMES[2]} 2 2 2\n".encode()
    return {"images.tar.gz": _tar_gz(images), "annotations.tar.gz": _tar_gz(ann)}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_pet(server, *, verified=True, prefix="") -> datasets.DatasetSpec:
    """The Oxford-IIIT Pet entry of the registry, pointing at the local server."""
    files = []
    for name, data in pet_archives().items():
        server.files[f"/{name}"] = data
        server.files[f"/cut/{name}"] = data
        files.append(RemoteFile(name, f"{server.url}{prefix}/{name}",
                                _sha(data) if verified else None, len(data)))
    return dataclasses.replace(DATASETS["oxford_iiit_pet"], files=tuple(files))


def test_good_checksum_downloads_extracts_and_loads(server, tmp_path, capsys):
    spec = serve_pet(server)
    base = download(spec, tmp_path, progress=False)
    assert base == tmp_path and available(spec, tmp_path)
    assert sorted(server.hits) == ["/annotations.tar.gz", "/images.tar.gz"]
    assert sorted(p.name for p in (tmp_path / DOWNLOADS).iterdir()) == [
        "annotations.tar.gz", "annotations.tar.gz.sha256", "images.tar.gz",
        "images.tar.gz.sha256"]
    pairs = dataset_pairs(spec, tmp_path, "test", progress=False)
    from segutils.data.io import read_mask

    np.testing.assert_array_equal(read_mask(pairs[0].mask), np.choose(TRIMAP - 1, [1, 0, 255]))
    assert "is ready" in capsys.readouterr().out


def test_cache_hit_does_not_contact_the_server(server, tmp_path, capsys):
    spec = serve_pet(server)
    download(spec, tmp_path, progress=False)
    hits = len(server.hits)
    for remote in spec.files:
        assert fetch(remote, tmp_path / DOWNLOADS, progress=False).is_file()
    download(spec, tmp_path, progress=False)
    assert len(server.hits) == hits
    assert "already downloaded" in capsys.readouterr().out


def test_bad_checksum_removes_the_file_and_says_so(server, tmp_path):
    spec = serve_pet(server)
    bad = dataclasses.replace(spec.files[1], sha256="0" * 64)
    with pytest.raises(DatasetError) as err:
        fetch(bad, tmp_path, progress=False)
    text = str(err.value)
    assert "checksum mismatch" in text and "removed" in text and "0" * 64 in text
    assert _sha(server.files["/annotations.tar.gz"]) in text
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_leaves_nothing_that_passes_as_complete(server, tmp_path):
    spec = serve_pet(server, verified=False, prefix="/cut")  # no checksum to catch it
    with pytest.raises(DatasetError, match="nothing was kept"):
        fetch(spec.files[0], tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
    good = serve_pet(server, verified=False).files[0]
    assert fetch(good, tmp_path, progress=False).read_bytes() == server.files["/images.tar.gz"]


def test_leftover_part_file_is_never_resumed(server, tmp_path):
    remote = serve_pet(server, verified=False).files[0]
    (tmp_path / "images.tar.gz.part").write_bytes(b"half of a file from a killed session")
    path = fetch(remote, tmp_path, progress=False)
    assert path.read_bytes() == server.files["/images.tar.gz"]
    assert not (tmp_path / "images.tar.gz.part").exists()


def test_unknown_checksum_is_computed_printed_and_marked_unverified(server, tmp_path, capsys):
    remote = serve_pet(server, verified=False).files[0]
    fetch(remote, tmp_path, progress=False)
    out = capsys.readouterr().out
    assert _sha(server.files["/images.tar.gz"]) in out and "could not be verified" in out
    assert '"verified": false' in (tmp_path / "images.tar.gz.sha256").read_text()


def test_no_network_says_where_to_put_the_file(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = RemoteFile("images.tar.gz", f"http://127.0.0.1:{port}/images.tar.gz", None)
    with pytest.raises(DatasetError) as err:
        fetch(remote, tmp_path / "dl", progress=False)
    text = str(err.value)
    assert remote.url in text and f"save it as {tmp_path / 'dl' / 'images.tar.gz'}" in text
    assert list((tmp_path / "dl").iterdir()) == []


def test_file_placed_by_hand_is_checked_not_downloaded(server, tmp_path):
    spec = serve_pet(server)
    (tmp_path / "images.tar.gz").write_bytes(server.files["/images.tar.gz"])
    assert fetch(spec.files[0], tmp_path, progress=False) == tmp_path / "images.tar.gz"
    (tmp_path / "annotations.tar.gz").write_bytes(b"truncated")
    with pytest.raises(DatasetError, match="delete"):
        fetch(spec.files[1], tmp_path, progress=False)
    assert server.hits == []


def test_mirror_is_tried_when_the_first_address_fails(server, tmp_path):
    remote = serve_pet(server).files[0]
    remote = dataclasses.replace(remote, url=f"{server.url}/gone", mirrors=(remote.url,))
    assert fetch(remote, tmp_path, progress=False).is_file()
    assert server.hits == ["/gone", "/images.tar.gz"]


def _tar_with(*infos: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in infos:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, b"evil"


ESCAPES = {
    "dotdot": [_member("../evil.txt")],
    "absolute": [_member("/tmp/segutils_test_evil.txt")],
    "dotdot_inside_path": [_member("images/../../evil.txt")],
    "symlink_out": [_member("link", tarfile.SYMTYPE, "../../outside")],
    "symlink_absolute": [_member("etc", tarfile.SYMTYPE, "/etc")],
    "hardlink_out": [_member("hl", tarfile.LNKTYPE, "../outside.txt")],
    "through_link": [_member("d", tarfile.SYMTYPE, "."), _member("d/evil.txt")],
    "fifo": [_member("pipe", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_crafted_tar_is_refused_whole(tmp_path, case):
    archive = tmp_path / "crafted.tar"
    members = [_member("images/ok.jpg"), *ESCAPES[case]]
    archive.write_bytes(_tar_with(*members))
    target = tmp_path / "sandbox" / "target"
    with pytest.raises(DatasetError, match="refusing to extract") as err:
        safe_extract(archive, target)
    assert ESCAPES[case][-1][0].name in str(err.value)
    assert list(target.iterdir()) == []  # not even the harmless member was written
    assert not (tmp_path / "sandbox" / "evil.txt").exists()
    assert not Path("/tmp/segutils_test_evil.txt").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/abs_evil.txt", "a/../../evil.txt"])
def test_crafted_zip_is_refused(tmp_path, name):
    archive = tmp_path / "crafted.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok.txt", b"fine")
        z.writestr(zipfile.ZipInfo(name), b"evil")
    target = tmp_path / "sandbox" / "target"
    with pytest.raises(DatasetError, match="refusing to extract"):
        safe_extract(archive, target)
    assert list(target.iterdir()) == [] and not (tmp_path / "sandbox" / "evil.txt").exists()


def test_links_inside_the_target_are_allowed(tmp_path):
    archive = tmp_path / "ok.tar"
    archive.write_bytes(_tar_with(_member("images/a.jpg"),
                                  _member("images/alias.jpg", tarfile.SYMTYPE, "a.jpg")))
    assert safe_extract(archive, tmp_path / "t") == 2
    assert (tmp_path / "t" / "images" / "alias.jpg").read_bytes() == b"evil"


def test_crafted_archive_from_the_server_is_refused(server, tmp_path):
    spec = serve_pet(server)
    bad = _tar_gz({"images/x.jpg": b"x", "../../evil.jpg": b"evil"})
    server.files["/images.tar.gz"] = bad
    spec = dataclasses.replace(spec, files=(dataclasses.replace(
        spec.files[0], sha256=_sha(bad)),))
    with pytest.raises(DatasetError, match=r"\.\./\.\./evil\.jpg"):
        download(spec, tmp_path / "root", progress=False)
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "root" / "images").exists()
    assert not (tmp_path / "root" / ".segutils").exists()  # no "extracted" stamp


def test_cityscapes_explains_the_login_then_extracts_zips_placed_by_hand(tmp_path, capsys):
    with pytest.raises(DatasetError) as err:
        download("cityscapes", tmp_path, progress=False)
    text = str(err.value)
    assert "register" in text and "gtFine_trainvaltest.zip" in text
    assert str(tmp_path / DOWNLOADS) in text
    stem = "aachen_000000_000019"
    for zip_name, member, data in (
            ("gtFine_trainvaltest.zip", f"gtFine/train/aachen/{stem}_gtFine_labelIds.png",
             _png(np.full((2, 3), 7))),
            ("leftImg8bit_trainvaltest.zip", f"leftImg8bit/train/aachen/{stem}_leftImg8bit.png",
             _png(np.zeros((2, 3, 3))))):
        (tmp_path / DOWNLOADS).mkdir(exist_ok=True)
        with zipfile.ZipFile(tmp_path / DOWNLOADS / zip_name, "w") as z:
            z.writestr(member, data)
            z.writestr("README", b"readme")
    assert download("cityscapes", tmp_path, progress=False) == tmp_path
    assert "could not be verified" in capsys.readouterr().out
    assert [p.stem for p in dataset_pairs("cityscapes", tmp_path, "train", progress=False)] == [
        stem]


def test_unknown_optional_part(tmp_path):
    with pytest.raises(DatasetError, match="optional parts: sbd"):
        download("voc2012", tmp_path, extras=["coco"])


def test_command_line_and_load_dataset_download(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(DATASETS, "oxford_iiit_pet", serve_pet(server))
    parser = argparse.ArgumentParser()
    add_download_arguments(parser)
    args = parser.parse_args(["oxford_iiit_pet", "--root", str(tmp_path / "a"), "--quiet"])
    assert args.func(args) == 0
    assert "load_dataset('oxford_iiit_pet'" in capsys.readouterr().out
    ds = load_dataset("oxford_iiit_pet", tmp_path / "b", "trainval", download=True,
                               batch_size=2, progress=False)
    _, masks = next(ds.as_numpy_iterator())
    np.testing.assert_array_equal(masks[0], np.choose(TRIMAP - 1, [1, 0, 255]))
