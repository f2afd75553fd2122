"""snn_from_scratch.fetch (the fetch command) against a local HTTP server on 127.0.0.1 (no internet).

The server serves generated fixture files in every format the real data sets use (IDX
gz, a zip of IDX files, a tar.gz of WAVs, a Gutenberg-style text, a zip of WikiText
files) and can misbehave on demand: answer 500, cut a transfer midway, ignore Range,
or serve a wrong file. Every loader of ``snn_from_scratch.datasets`` is then run on what
the fetcher wrote.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import sys
import tarfile
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

# data_scripts/ is a folder of scripts at the repository root, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from snn_from_scratch import fetch as F  # noqa: E402
from snn_from_scratch import datasets as D


# ----------------------------------------------------------------------------- fixtures
def idx_bytes(arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(header + arr.tobytes(), mtime=0)


def make_images(seed, n):
    r = np.random.default_rng(seed)
    return r.integers(0, 256, (n, 28, 28), dtype=np.uint8), r.integers(0, 10, n)


def mnist_like_files(seed):
    xtr, ytr = make_images(seed, 6)
    xte, yte = make_images(seed + 1, 4)
    return {"train-images-idx3-ubyte.gz": idx_bytes(xtr),
            "train-labels-idx1-ubyte.gz": idx_bytes(ytr),
            "t10k-images-idx3-ubyte.gz": idx_bytes(xte),
            "t10k-labels-idx1-ubyte.gz": idx_bytes(yte)}, (xtr, ytr, xte, yte)


def emnist_zip():
    # Upright images, stored transposed as EMNIST stores them.
    xtr, ytr = make_images(10, 5)
    xte, yte = make_images(11, 3)
    ytr, yte = ytr % 3, yte % 3
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for split in ("balanced", "bymerge"):
            z.writestr(f"gzip/emnist-{split}-train-images-idx3-ubyte.gz",
                       idx_bytes(xtr.transpose(0, 2, 1)))
            z.writestr(f"gzip/emnist-{split}-train-labels-idx1-ubyte.gz", idx_bytes(ytr))
            z.writestr(f"gzip/emnist-{split}-test-images-idx3-ubyte.gz",
                       idx_bytes(xte.transpose(0, 2, 1)))
            z.writestr(f"gzip/emnist-{split}-test-labels-idx1-ubyte.gz", idx_bytes(yte))
            z.writestr(f"gzip/emnist-{split}-mapping.txt", "0 48\n1 49\n2 65\n")
    return buf.getvalue(), (xtr, ytr, xte, yte)


def wav_bytes(freq, sr=8000, dur=0.3):
    t = np.arange(int(sr * dur)) / sr
    sig = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    b = io.BytesIO()
    wavfile.write(b, sr, sig)
    return b.getvalue()


def fsdd_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for digit, freq in ((0, 300.0), (1, 1200.0)):
            for speaker in ("jackson", "theo"):
                for index in (0, 3, 5, 7):
                    data = wav_bytes(freq * (1 + 0.01 * index))
                    info = tarfile.TarInfo(f"free-spoken-digit-dataset-1.0.9/recordings/"
                                           f"{digit}_{speaker}_{index}.wav")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


ALICE_BODY = ("CHAPTER I.\nDown the Rabbit-Hole\n\nAlice was beginning to get very tired "
              "of sitting by her sister on the bank.\n") * 20


def alice_text():
    return ("\ufeffThe Project Gutenberg eBook of Alice\u2019s Adventures in Wonderland\r\n"
            "\r\n*** START OF THE PROJECT GUTENBERG EBOOK ALICE\u2019S ADVENTURES IN "
            "WONDERLAND ***\r\n\r\nALICE\u2019S ADVENTURES IN WONDERLAND\r\n\r\n"
            + ALICE_BODY.replace("\n", "\r\n")
            + "\r\n*** END OF THE PROJECT GUTENBERG EBOOK ALICE\u2019S ADVENTURES IN "
              "WONDERLAND ***\r\n\r\nUpdated editions will replace the previous one.\r\n"
            ).encode("utf-8")


WIKI = {"train": " = Valkyria Chronicles III = \n Senjō no Valkyria 3 is a game .\n" * 30,
        "valid": " = Homarus gammarus = \n Homarus gammarus is a lobster .\n" * 5,
        "test": " = Robert Boulter = \n Robert Boulter is an English actor .\n" * 8}


def wikitext_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part, text in WIKI.items():
            z.writestr(f"wikitext-2-raw/wiki.{part}.raw", text.encode("utf-8"))
    return buf.getvalue()


def resource(filename, data, **kw):
    return F.Resource(filename, ("http://unused.invalid/" + filename,),
                      sha256=hashlib.sha256(data).hexdigest(),
                      md5=hashlib.md5(data).hexdigest(), size=len(data), **kw)


@pytest.fixture(scope="module")
def fixtures():
    files, truth = {}, {}
    mn, truth["mnist"] = mnist_like_files(1)
    fm, truth["fashion-mnist"] = mnist_like_files(5)
    for name, group in (("mnist", mn), ("fashion-mnist", fm)):
        for fn, data in group.items():
            files[f"/{name}/{fn}"] = data
    em, truth["emnist"] = emnist_zip()
    files["/emnist/gzip.zip"] = em
    files["/fsdd/free-spoken-digit-dataset-1.0.9.tar.gz"] = fsdd_tar()
    files["/alice/pg11.txt"] = alice_text()
    files["/wikitext-2/wikitext-2-raw-v1.zip"] = wikitext_zip()
    table = {}
    for path, data in files.items():
        name, fn = path.strip("/").split("/")
        kw = {"extract": fn.endswith((".zip", ".tar.gz"))}
        if name == "alice":   # as pinned for real: no checksum, a content check
            res = F.Resource(fn, ("x",), must_contain=F.DATASETS["alice"][0].must_contain)
        else:
            res = resource(fn, data, **kw)
        table.setdefault(name, []).append(res)
    table = {k: tuple(v) for k, v in table.items()}
    return files, table, truth


class Server:
    """A local file server whose answers can be scripted per path."""

    def __init__(self, files):
        self.files = dict(files)
        self.plan = {}            # path -> list of modes consumed one per request
        self.log = []             # (path, Range header or None, mode)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):   # keep test output clean
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                rng = self.headers.get("Range")
                queue = outer.plan.get(path, [])
                mode = queue.pop(0) if queue else "ok"
                outer.log.append((path, rng, mode))
                if path not in outer.files or mode == "404":
                    self.send_error(404)
                    return
                if mode == "500":
                    self.send_error(500, "planned failure")
                    return
                body = outer.files[path]
                if mode == "wrong":
                    body = bytes(255 - b for b in body)     # same size, other bytes
                start = 0
                if rng and mode != "ignore_range":
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                payload = body[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                if mode == "cut":                           # die halfway through
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def requests_for(self, path):
        return [entry for entry in self.log if entry[0] == path]


@pytest.fixture
def server(fixtures):
    s = Server(fixtures[0])
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join(timeout=5)


def get(name, dest, table, server, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("quiet", True)
    kw.setdefault("timeout", 5)
    return F.fetch(name, dest=dest, table=table, base_url=server.url, **kw)


# ----------------------------------------------------------------------------- success
def test_fetch_every_dataset_and_load_it(fixtures, server, tmp_path):
    files, table, truth = fixtures
    for name in table:
        paths = get(name, tmp_path, table, server)
        for p in paths:
            assert p.exists() and not Path(str(p) + ".part").exists()
            assert p.read_bytes() == files[f"/{name}/{p.name}"]

    m = D.load_mnist("mnist", data_dir=tmp_path)
    xtr, ytr, xte, yte = truth["mnist"]
    assert m["source"].startswith("full")
    assert np.array_equal(m["x_train"], xtr) and np.array_equal(m["y_train"], ytr)
    assert np.array_equal(m["x_test"], xte) and np.array_equal(m["y_test"], yte)
    f = D.load_mnist("fashion-mnist", data_dir=tmp_path)
    assert np.array_equal(f["x_train"], truth["fashion-mnist"][0])

    for split in ("balanced", "bymerge"):
        e = D.load_emnist(split, data_dir=tmp_path)
        xtr, ytr, xte, yte = truth["emnist"]
        assert np.array_equal(e["x_train"], xtr)      # transposition undone
        assert np.array_equal(e["x_test"], xte) and np.array_equal(e["y_test"], yte)
        assert e["classes"] == ["0", "1", "A"]

    s = D.load_fsdd(data_dir=tmp_path)
    assert s["x_train"].shape == (8, 8, 13) and s["x_test"].shape == (8, 8, 13)
    assert sorted(set(s["y_train"])) == [0, 1] and s["x_train"].dtype == np.float32
    # low (digit 0) and high (digit 1) tones must be told apart by the features
    mean0 = s["x_train"][s["y_train"] == 0].mean(axis=(0, 1))
    mean1 = s["x_train"][s["y_train"] == 1].mean(axis=(0, 1))
    assert np.abs(mean0 - mean1).max() > 0.5

    a = D.load_text("alice", data_dir=tmp_path, split="full")
    text = a.decode(np.concatenate([a.train, a.test]))
    assert text.startswith("alice\u2019s adventures in wonderland\n\nchapter i.")
    assert "gutenberg" not in text and "updated editions" not in text
    assert text == text.lower()
    with pytest.raises(ValueError, match="paper split needs"):
        D.load_text("alice", data_dir=tmp_path)        # fixture far below 64,000 chars

    w = D.load_text("wikitext-2", data_dir=tmp_path, split="full")
    assert w.decode(w.train) == WIKI["train"].lower()
    assert w.decode(w.valid) == WIKI["valid"].lower()
    assert w.decode(w.test) == WIKI["test"].lower()
    wp = D.load_text("wikitext-2", data_dir=tmp_path)   # paper split: first N chars
    assert wp.decode(wp.test) == WIKI["test"].lower()[:12000]
    assert "ō" in w.vocab


def test_progress_and_messages_are_printed(fixtures, server, tmp_path, capsys):
    _, table, _ = fixtures
    get("mnist", tmp_path, table, server, quiet=False)
    err = capsys.readouterr().err
    assert "100.0%" in err and "verified" in err
    get("mnist", tmp_path, table, server, quiet=False)
    assert "nothing to do" in capsys.readouterr().err


# ----------------------------------------------------------------------------- idempotence
def test_second_run_verifies_and_downloads_nothing(fixtures, server, tmp_path):
    _, table, _ = fixtures
    get("wikitext-2", tmp_path, table, server)
    archive = tmp_path / "wikitext-2" / "wikitext-2-raw-v1.zip"
    raw = tmp_path / "wikitext-2" / "wikitext-2-raw" / "wiki.train.raw"
    stamps = archive.stat().st_mtime_ns, raw.stat().st_mtime_ns
    n_requests = len(server.log)
    get("wikitext-2", tmp_path, table, server)
    assert len(server.log) == n_requests                  # no request at all
    assert (archive.stat().st_mtime_ns, raw.stat().st_mtime_ns) == stamps


def test_corrupt_existing_file_is_replaced(fixtures, server, tmp_path, capsys):
    files, table, _ = fixtures
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    get("mnist", tmp_path, table, server, quiet=False)
    assert "failed verification" in capsys.readouterr().err
    assert (folder / "train-labels-idx1-ubyte.gz").read_bytes() == \
        files["/mnist/train-labels-idx1-ubyte.gz"]


# ----------------------------------------------------------------------------- failures
def test_checksum_mismatch_deletes_the_file_and_says_so(fixtures, server, tmp_path,
                                                        capsys):
    _, table, _ = fixtures
    path = "/mnist/train-images-idx3-ubyte.gz"
    server.plan[path] = ["wrong"]
    with pytest.raises(F.FetchError, match="checksum mismatch"):
        get("mnist", tmp_path, table, server, quiet=False)
    err = capsys.readouterr().err
    assert "CHECKSUM MISMATCH" in err and "deleted" in err
    folder = tmp_path / "mnist"
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    assert not (folder / "train-images-idx3-ubyte.gz.part").exists()
    assert len(server.requests_for(path)) == 1            # a wrong file is not retried
    # the next run (server fixed) succeeds
    get("mnist", tmp_path, table, server)
    assert (folder / "train-images-idx3-ubyte.gz").exists()


def test_content_check_rejects_a_non_gutenberg_file(fixtures, server, tmp_path):
    _, table, _ = fixtures
    server.plan["/alice/pg11.txt"] = ["wrong"]
    with pytest.raises(F.FetchError, match="content check"):
        get("alice", tmp_path, table, server)
    assert not (tmp_path / "alice" / "pg11.txt").exists()


def test_interrupted_transfer_is_resumed_with_range(fixtures, server, tmp_path):
    files, table, _ = fixtures
    path = "/fsdd/free-spoken-digit-dataset-1.0.9.tar.gz"
    server.plan[path] = ["cut"]
    get("fsdd", tmp_path, table, server)
    reqs = server.requests_for(path)
    assert len(reqs) == 2
    assert reqs[0][1] is None                             # first: whole file, cut
    half = len(files[path]) // 2
    assert reqs[1][1] == f"bytes={half}-"                 # second: only the rest
    final = tmp_path / "fsdd" / "free-spoken-digit-dataset-1.0.9.tar.gz"
    assert final.read_bytes() == files[path]
    assert len(list((tmp_path / "fsdd").rglob("*.wav"))) == 16


def test_leftover_part_from_a_previous_run_is_resumed(fixtures, server, tmp_path):
    files, table, _ = fixtures
    path = "/mnist/t10k-images-idx3-ubyte.gz"
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz.part").write_bytes(files[path][:100])
    get("mnist", tmp_path, table, server)
    assert server.requests_for(path)[0][1] == "bytes=100-"
    assert (folder / "t10k-images-idx3-ubyte.gz").read_bytes() == files[path]


def test_server_ignoring_range_restarts_from_zero(fixtures, server, tmp_path):
    files, table, _ = fixtures
    path = "/mnist/t10k-images-idx3-ubyte.gz"
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz.part").write_bytes(b"\x00" * 100)  # stale
    server.plan[path] = ["ignore_range"]
    get("mnist", tmp_path, table, server)
    assert (folder / "t10k-images-idx3-ubyte.gz").read_bytes() == files[path]


def test_server_error_is_retried_with_backoff(fixtures, server, tmp_path, monkeypatch):
    files, table, _ = fixtures
    sleeps = []
    monkeypatch.setattr(F.time, "sleep", sleeps.append)
    path = "/alice/pg11.txt"
    server.plan[path] = ["500", "500"]
    get("alice", tmp_path, table, server, backoff=0.5)
    assert [m for _, _, m in server.requests_for(path)] == ["500", "500", "ok"]
    assert sleeps == [0.5, 1.0]                           # exponential back-off
    assert (tmp_path / "alice" / "pg11.txt").read_bytes() == files[path]


def test_gives_up_after_the_retries(fixtures, server, tmp_path, monkeypatch):
    _, table, _ = fixtures
    monkeypatch.setattr(F.time, "sleep", lambda s: None)
    server.plan["/alice/pg11.txt"] = ["500"] * 10
    with pytest.raises(F.FetchError, match="HTTP 500"):
        get("alice", tmp_path, table, server, retries=2)
    assert len(server.requests_for("/alice/pg11.txt")) == 3
    assert not (tmp_path / "alice" / "pg11.txt").exists()


def test_mirror_list_falls_through_to_the_next_url(fixtures, server, tmp_path):
    files, table, _ = fixtures
    res = table["alice"][0]
    res = replace(res, urls=(server.url + "/missing/pg11.txt",
                             server.url + "/alice/pg11.txt"))
    F.fetch("alice", dest=tmp_path, table={"alice": (res,)}, quiet=True, backoff=0.01)
    assert server.log[0][0] == "/missing/pg11.txt"
    assert (tmp_path / "alice" / "pg11.txt").read_bytes() == files["/alice/pg11.txt"]


# ----------------------------------------------------------------------------- CLI
def test_cli_uses_env_base_url_and_dest(fixtures, server, tmp_path, monkeypatch):
    _, table, _ = fixtures
    monkeypatch.setattr(F, "DATASETS", table)
    monkeypatch.setenv("SNN_FETCH_BASE_URL", server.url)
    assert F.main(["mnist", "alice", "--dest", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "alice" / "pg11.txt").exists()
    monkeypatch.setenv("SNN_DATA_DIR", str(tmp_path / "env"))
    assert F.main(["fashion-mnist", "--quiet"]) == 0
    assert (tmp_path / "env" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    server.plan["/wikitext-2/wikitext-2-raw-v1.zip"] = ["wrong"]
    assert F.main(["wikitext-2", "--quiet"]) == 1
    with pytest.raises(SystemExit):
        F.main(["imagenet"])


def test_pinned_table_is_well_formed():
    assert set(F.DATASETS) == {"mnist", "fashion-mnist", "emnist", "fsdd", "alice",
                               "wikitext-2"}
    for name, resources in F.DATASETS.items():
        for r in resources:
            assert len(r.urls) >= 2, f"{name}: a mirror list is required"
            assert all(u.startswith(("http://", "https://")) for u in r.urls)
            assert r.sha256 or r.md5 or r.size or r.must_contain, name
            assert r.sha256 is None or len(r.sha256) == 64
            assert r.md5 is None or len(r.md5) == 32
            assert r.origin, f"{name}: say where the pinned values come from"
    assert F.DATASETS["mnist"][0].md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    with pytest.raises(ValueError, match="unknown data set"):
        F.fetch("imagenet", dest="unused")
