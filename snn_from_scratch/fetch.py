"""Fetch, verify and unpack the real data sets the papers use.

Usage (from an installed package, or ``python data_scripts/fetch.py`` in a clone)::

    python -m snn_from_scratch fetch NAME [NAME ...] [--dest DIR]
    NAME: mnist, fashion-mnist, emnist, fsdd, alice, wikitext-2, or all

Files go to ``DIR/<NAME>/`` where DIR is ``--dest``, else the data folder that
``snn_from_scratch.datasets`` reads (:func:`snn_from_scratch.datasets.data_dir`:
``$SNN_DATA_DIR``, else a per-user cache folder).

Why not ``pooch``: pooch covers checksummed downloads and unpacking, but not what this
module needs beyond them — several mirrors per file tried in order, resuming a cut
transfer with an HTTP Range request, a content check for files that are re-issued without
a fixed checksum (Project Gutenberg's Alice), and offline tests against a local server
with the same code path. Those are about 150 lines here; the rest would be the same size.

How a file is fetched (:func:`fetch_resource`):

* **idempotent** — a file already present under its final name is verified (size and
  checksums) and skipped; a present file that fails verification is deleted, reported and
  fetched again;
* **resumable** — bytes arrive in ``<name>.part``; after an interruption the next attempt
  asks the server for the rest with an HTTP ``Range: bytes=N-`` header (and starts over
  if the server ignores it);
* **retries** with exponential back-off (``backoff * 2**k`` seconds) on connection errors,
  truncated transfers and 5xx/429 answers, then moves on to the next mirror;
* **verified, then atomic** — the complete ``.part`` is checked against the pinned size
  and checksums; on a mismatch it is deleted and the mismatch reported; on success it is
  renamed (``os.replace``) to its final name, so a half file never carries the final
  name;
* **archives** (zip / tar.gz) are unpacked only after verification, into a temporary
  folder that is then moved into place; a marker file records the unpacking so that
  re-runs skip it.

Pinned values and where they come from are listed in ``data_scripts/README.md``. Only the
standard library is used, so the script runs before anything is installed.

For tests (and private mirrors) the URL table can be overridden: ``base_url=...`` (or
the environment variable ``SNN_FETCH_BASE_URL``) replaces every URL by
``<base_url>/<NAME>/<filename>``, and :func:`fetch` accepts a whole ``table`` of
:class:`Resource` entries.

Why this file is long (~460 lines): the pinned table of every data set (URLs, mirrors,
sizes, checksums) and the transfer logic (resume, retries, verification, atomic rename,
unpacking) that pooch does not cover (see above).
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["Resource", "DATASETS", "FetchError", "fetch", "fetch_resource", "verify",
           "main"]

CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    """One file to fetch.

    ``urls`` are tried in order (canonical location first, then mirrors). ``sha256``,
    ``md5`` and ``size`` are the pinned values (None where nothing is published);
    ``must_contain`` is a byte string the file has to contain (a content check for files
    whose checksum cannot be pinned). ``extract`` unpacks a zip / tar.gz after
    verification. ``origin`` says where the pinned values come from.
    """

    filename: str
    urls: tuple
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    must_contain: bytes | None = None
    extract: bool = False
    origin: str = ""


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                  "https://storage.googleapis.com/cvdf-datasets/mnist/",
                  "http://yann.lecun.com/exdb/mnist/")
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/"
                    "master/data/fashion/")
_MD5_TV = "md5: torchvision.datasets.{cls}.resources; sha256 + size: TensorFlow Datasets " \
          "url_checksums/{tfds}.txt"


def _idx(filename, mirrors, sha256, md5, size, cls, tfds):
    return Resource(filename, tuple(m + filename for m in mirrors), sha256, md5, size,
                    origin=_MD5_TV.format(cls=cls, tfds=tfds))


DATASETS = {
    "mnist": (
        _idx("train-images-idx3-ubyte.gz", _MNIST_MIRRORS,
             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
             "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422, "MNIST", "mnist"),
        _idx("train-labels-idx1-ubyte.gz", _MNIST_MIRRORS,
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
             "d53e105ee54ea40749a09fcbcd1e9432", 28881, "MNIST", "mnist"),
        _idx("t10k-images-idx3-ubyte.gz", _MNIST_MIRRORS,
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
             "9fb629c4189551a2d022fa330f9573f3", 1648877, "MNIST", "mnist"),
        _idx("t10k-labels-idx1-ubyte.gz", _MNIST_MIRRORS,
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
             "ec29112dd5afa0611ce80d1b7f02629c", 4542, "MNIST", "mnist"),
    ),
    "fashion-mnist": (
        _idx("train-images-idx3-ubyte.gz", _FASHION_MIRRORS,
             "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
             "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880, "FashionMNIST", "fashion_mnist"),
        _idx("train-labels-idx1-ubyte.gz", _FASHION_MIRRORS,
             "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
             "25c81989df183df01b3e8a0aad5dffbe", 29515, "FashionMNIST", "fashion_mnist"),
        _idx("t10k-images-idx3-ubyte.gz", _FASHION_MIRRORS,
             "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
             "bef4ecab320f06d8554ea6380940ec79", 4422102, "FashionMNIST", "fashion_mnist"),
        _idx("t10k-labels-idx1-ubyte.gz", _FASHION_MIRRORS,
             "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
             "bb300cfdad3c16e7a12a480ee83cd310", 5148, "FashionMNIST", "fashion_mnist"),
    ),
    "emnist": (
        Resource("gzip.zip",
                 ("https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip",
                  "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip"),
                 sha256="fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e",
                 md5="58c8d27c78d21e728a6bc7b3cc06412e", size=561753746, extract=True,
                 origin="md5: torchvision.datasets.EMNIST.md5; sha256 + size: TensorFlow "
                        "Datasets url_checksums/emnist.txt"),
    ),
    "fsdd": (
        Resource("free-spoken-digit-dataset-1.0.9.tar.gz",
                 ("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
                  "v1.0.9.tar.gz",
                  "https://codeload.github.com/Jakobovski/free-spoken-digit-dataset/"
                  "tar.gz/refs/tags/v1.0.9"),
                 sha256="8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
                 size=11975353, extract=True,
                 origin="sha256 + size: TensorFlow Datasets audio/spoken_digit/"
                        "checksums.tsv (FSDD itself publishes none)"),
    ),
    "alice": (
        Resource("pg11.txt",
                 ("https://www.gutenberg.org/cache/epub/11/pg11.txt",
                  "https://www.gutenberg.org/files/11/11-0.txt",
                  "https://gutenberg.pglaf.org/cache/epub/11/pg11.txt"),
                 must_contain=b"ALICE\xe2\x80\x99S ADVENTURES IN WONDERLAND",
                 origin="none published: Project Gutenberg re-issues its files (header "
                        "and licence updates), so neither a checksum nor a size is "
                        "stable; verified by content (title and the START/END markers)"),
    ),
    "wikitext-2": (
        Resource("wikitext-2-raw-v1.zip",
                 ("https://s3.amazonaws.com/research.metamind.io/wikitext/"
                  "wikitext-2-raw-v1.zip",
                  "https://huggingface.co/datasets/ggml-org/ci/resolve/main/"
                  "wikitext-2-raw-v1.zip"),
                 sha256="ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11",
                 size=4721645, extract=True,
                 origin="sha256 + size: recorded for the ggml-org/ci mirror copy (the "
                        "file llama.cpp's get-wikitext-2.sh fetches); the original "
                        "publisher (Salesforce/MetaMind) published no checksum"),
    ),
}

# Gutenberg's title line uses a typographic apostrophe in current files and an ASCII one
# in older ones: accept either (see _content_ok).
_ALT_CONTENT = {b"ALICE\xe2\x80\x99S ADVENTURES IN WONDERLAND":
                (b"ALICE'S ADVENTURES IN WONDERLAND",)}


class FetchError(RuntimeError):
    """A resource could not be fetched and verified from any of its URLs."""


# ----------------------------------------------------------------------------- helpers
def _say(msg, quiet):
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _hashes(path):
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _content_ok(path, needle):
    data = Path(path).read_bytes().upper()
    needles = (needle,) + _ALT_CONTENT.get(needle, ())
    return any(n.upper() in data for n in needles) and b"*** START OF" in data \
        and b"*** END OF" in data


def verify(path, res):
    """Check ``path`` against the resource's pinned values: (ok, reason)."""
    size = os.path.getsize(path)
    if res.size is not None and size != res.size:
        return False, f"size {size} bytes, expected {res.size}"
    if res.sha256 or res.md5:
        sha, md5 = _hashes(path)
        if res.sha256 and sha != res.sha256:
            return False, f"sha256 {sha}, expected {res.sha256}"
        if res.md5 and md5 != res.md5:
            return False, f"md5 {md5}, expected {res.md5}"
    if res.must_contain is not None and not _content_ok(path, res.must_contain):
        return False, f"content check failed (no {res.must_contain!r} / Gutenberg markers)"
    return True, "ok"


def _human(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000.0


class _Retryable(Exception):
    pass


def _download(url, part, res, timeout, quiet):
    """One attempt: append the missing bytes of ``url`` to ``part`` (Range resume)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "snn_from_scratch-fetch/1.0"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return  # we already hold every byte: verification decides
        if e.code >= 500 or e.code == 429:
            raise _Retryable(f"HTTP {e.code} from {url}") from e
        raise  # 404 and friends: this URL is wrong, try the next mirror
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _Retryable(f"{type(e).__name__}: {e}") from e
    with resp:
        status = getattr(resp, "status", 200)
        if have and status == 206:
            mode = "ab"
        else:
            mode, have = "wb", 0  # server sent the whole file: start over
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else res.size
        if have:
            _say(f"  resuming {res.filename} at {_human(have)}", quiet)
        done, t0, last = have, time.monotonic(), 0.0
        try:
            with open(part, mode) as f:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    now = time.monotonic()
                    if not quiet and (now - last > 0.5 or (total and done >= total)):
                        last = now
                        rate = (done - have) / max(now - t0, 1e-6)
                        pct = f"{100.0 * done / total:5.1f}% " if total else ""
                        tot = f"/{_human(total)}" if total else ""
                        print(f"\r  {res.filename}: {pct}{_human(done)}{tot} "
                              f"{_human(rate)}/s   ", end="", file=sys.stderr, flush=True)
        except (OSError, http.client.HTTPException) as e:
            if not quiet:
                print(file=sys.stderr)
            raise _Retryable(f"transfer interrupted after {_human(done)} "
                             f"({type(e).__name__})") from e
        if not quiet:
            print(file=sys.stderr)
        if total is not None and done < total:
            raise _Retryable(f"transfer ended early at {done} of {total} bytes")


def fetch_resource(res, folder, retries=4, backoff=1.0, timeout=60.0, quiet=False):
    """Fetch one :class:`Resource` into ``folder`` (see the module docstring).

    Returns the final path. Raises :class:`FetchError` when every URL failed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / res.filename
    part = folder / (res.filename + ".part")
    if final.exists():
        ok, why = verify(final, res)
        if ok:
            _say(f"  {res.filename}: present and verified, nothing to do", quiet)
            return final
        final.unlink()
        _say(f"  {res.filename}: the existing file failed verification ({why}); "
             f"deleted it, fetching again", quiet)
    errors = []
    for url in res.urls:
        for attempt in range(retries + 1):
            try:
                _say(f"  {res.filename} <- {url}" + (f" (retry {attempt})" if attempt
                                                    else ""), quiet)
                _download(url, part, res, timeout, quiet)
            except _Retryable as e:
                errors.append(f"{url}: {e}")
                if attempt < retries:
                    wait = backoff * (2 ** attempt)
                    _say(f"  {e}; retrying in {wait:.2g} s", quiet)
                    time.sleep(wait)
                    continue
                break  # this mirror is exhausted; keep the .part for the next one
            except urllib.error.HTTPError as e:
                errors.append(f"{url}: HTTP {e.code}")
                _say(f"  HTTP {e.code} from {url}; trying the next location", quiet)
                break
            ok, why = verify(part, res)
            if ok:
                os.replace(part, final)  # atomic: the final name only ever holds good data
                _say(f"  {res.filename}: verified ({why})", quiet)
                return final
            part.unlink()
            errors.append(f"{url}: checksum mismatch ({why})")
            _say(f"  {res.filename}: CHECKSUM MISMATCH from {url} ({why}); deleted the "
                 f"downloaded file", quiet)
            break  # a mirror serving a wrong file will not improve by retrying
    raise FetchError(f"could not fetch {res.filename}:\n    " + "\n    ".join(errors))


def _safe_members_zip(zf, dest):
    for m in zf.infolist():
        target = (dest / m.filename).resolve()
        if not str(target).startswith(str(dest.resolve()) + os.sep) and \
                target != dest.resolve():
            raise FetchError(f"refusing to extract {m.filename!r}: outside the folder")
    return zf.infolist()


def _extract(archive, folder, quiet):
    """Unpack ``archive`` into ``folder`` via a temporary folder; mark it done."""
    marker = folder / f".{archive.name}.extracted"
    # A marker older than the archive belongs to a previous (replaced) download.
    if marker.exists() and marker.stat().st_mtime >= archive.stat().st_mtime:
        _say(f"  {archive.name}: already unpacked", quiet)
        return
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder))
    try:
        name = archive.name
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                _safe_members_zip(zf, tmp)
                zf.extractall(tmp)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tf:
                for m in tf.getmembers():
                    target = (tmp / m.name).resolve()
                    if not str(target).startswith(str(tmp.resolve())) or m.issym() \
                            or m.islnk():
                        raise FetchError(f"refusing to extract {m.name!r}")
                if hasattr(tarfile, "data_filter"):  # Python >= 3.12 (and backports)
                    tf.extractall(tmp, filter="data")
                else:
                    tf.extractall(tmp)
        else:
            raise FetchError(f"do not know how to unpack {name}")
        for entry in tmp.iterdir():
            dest = folder / entry.name
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            os.replace(entry, dest)
        marker.write_text("ok\n")
        _say(f"  {name}: unpacked into {folder}", quiet)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _default_dest():
    from .datasets import data_dir

    return data_dir()


def fetch(name, dest=None, table=None, base_url=None, retries=4, backoff=1.0,
          timeout=60.0, quiet=False):
    """Fetch data set ``name`` (a key of ``table``, default :data:`DATASETS`).

    ``dest`` is the data folder (default: :func:`snn_from_scratch.datasets.data_dir`); the files go
    to ``dest/name/``. ``base_url`` (default ``$SNN_FETCH_BASE_URL``) replaces every URL
    by ``base_url/name/filename``. Returns the list of final file paths.
    """
    table = DATASETS if table is None else table
    if name not in table:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(table)} or all")
    dest = _default_dest() if dest is None else Path(dest)
    base_url = base_url if base_url is not None else os.environ.get("SNN_FETCH_BASE_URL")
    folder = dest / name
    _say(f"{name} -> {folder}", quiet)
    paths = []
    for res in table[name]:
        if base_url:
            res = replace(res, urls=(f"{base_url.rstrip('/')}/{name}/{res.filename}",))
        path = fetch_resource(res, folder, retries=retries, backoff=backoff,
                              timeout=timeout, quiet=quiet)
        if res.extract:
            _extract(path, folder, quiet)
        paths.append(path)
    return paths


def _non_negative_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m snn_from_scratch fetch",
        description="Download, verify and unpack the data sets of snn_from_scratch.")
    p.add_argument("names", nargs="+", metavar="NAME",
                   help=f"one or more of {', '.join(DATASETS)}, or all")
    p.add_argument("--dest", default=None,
                   help="data folder (default: $SNN_DATA_DIR, else the per-user cache folder)")
    p.add_argument("--retries", type=_non_negative_int, default=4, help="retries per URL (default 4)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    args = p.parse_args(argv)
    names = list(DATASETS) if "all" in args.names else args.names
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        p.error(f"unknown data set(s) {unknown}; choose from {', '.join(DATASETS)}, all")
    failed = []
    for n in names:
        try:
            fetch(n, dest=args.dest, retries=args.retries, quiet=args.quiet)
        except (FetchError, OSError) as e:
            print(f"error: {n}: {e}", file=sys.stderr)
            failed.append(n)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
