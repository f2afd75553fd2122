"""``reproduce``: the --list entries (data needs, run times, nothing cut), the printed paths
of what a run wrote, fast and full runs in separate folders, one-line missing-data errors."""
from __future__ import annotations

import pathlib

from snn_from_scratch import datasets, experiments


def test_list_has_data_and_time_for_every_experiment(capsys):
    assert experiments.main(["--list"]) == 0
    out = capsys.readouterr().out
    exps = experiments.registry()
    assert set(exps) == set(experiments.CATALOG), "every experiment needs a CATALOG entry"
    text = " ".join(out.split())
    for name, f in exps.items():
        entry = experiments.describe(name, f)
        assert entry in out
        assert "data: " in entry and "time: fast (--fast) about " in entry and "full run about " in entry
        # the whole first paragraph of the docstring, not its first line cut mid-sentence
        first = " ".join(f.__doc__.strip().split("\n\n")[0].split()).replace("``", "")
        assert first.split(":data:")[0].split(":func:")[0] in text, name
    assert max(len(line) for line in out.splitlines()) <= 100


def test_fast_run_writes_to_its_own_folder_and_prints_paths(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert experiments.default_out(False) == "runs"
    assert experiments.main(["degeeter-spikes", "--fast", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    written = [line.split(" written to ")[1] for line in out.splitlines() if " written to " in line]
    assert written, out
    assert any(p.endswith(".png") for p in written) and any(p.endswith(".json") for p in written)
    for p in written:
        assert pathlib.Path(p).parent == pathlib.Path("runs", "fast") and (tmp_path / p).is_file()
    # a second run prints what it (re)wrote again, not nothing
    assert experiments.main(["degeeter-spikes", "--fast", "--threads", "1"]) == 0
    assert out.count("figure written to") == capsys.readouterr().out.count("figure written to")


def test_missing_data_is_one_line_with_the_fetch_command(tmp_path, monkeypatch, capsys):
    def needs_emnist(args):
        return datasets.load_emnist("letters", data_dir=tmp_path / "empty")

    monkeypatch.setattr(experiments, "registry", lambda: {"needs-emnist": needs_emnist})
    monkeypatch.chdir(tmp_path)
    assert experiments.main(["needs-emnist", "--fast"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err
    assert "python -m snn_from_scratch fetch emnist" in lines[0]


def test_unknown_experiment(capsys):
    assert experiments.main(["no-such-thing"]) == 2
    assert "unknown experiment" in capsys.readouterr().err
