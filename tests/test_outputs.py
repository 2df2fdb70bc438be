"""unikd.outputs: what the tool writes is checked before the work, written whole, and never put in place of a file or
folder it did not create."""

from __future__ import annotations

import pytest

from unikd.outputs import MARKER, OutputError, atomic_dir, check_output, verify_complete
from unikd_mcu.cli import main


def write(folder, kind="run", **files):
    with atomic_dir(folder, kind) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)


def test_a_users_folder_is_refused_and_left_alone(tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match=r"already holds files unikd-mcu did not write \(thesis.tex\)"):
        write(mine, **{"metrics.json": "{}"})
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert [p.name for p in tmp_path.iterdir()] == ["notes"]  # no temporary folder either


def test_a_file_is_refused_not_turned_into_a_folder(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        write(tmp_path / "out", **{"metrics.json": "{}"})
    assert (tmp_path / "out").read_text() == "a file" and len(list(tmp_path.iterdir())) == 1


def test_the_tools_own_folder_is_replaced_whole(tmp_path):
    write(tmp_path / "r", **{"metrics.json": "1", "history.csv": "old"})
    write(tmp_path / "r", **{"metrics.json": "2"})
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [MARKER, "metrics.json"]
    assert verify_complete(tmp_path / "r", "run") is None


def test_a_folder_of_another_kind_is_refused(tmp_path):
    write(tmp_path / "b", "build", **{"report.md": "x"})
    with pytest.raises(OutputError, match="holds a unikd-mcu build, not a run"):
        check_output(tmp_path / "b", "run")


def test_a_run_from_before_markers_may_be_replaced(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.json", "student.pt", "metrics.json"):
        (old / name).write_text("x")
    check_output(old, "run")  # only names a run holds: the tool wrote it


def test_a_failure_while_writing_leaves_the_previous_output_and_no_temporary_folder(tmp_path):
    write(tmp_path / "r", **{"metrics.json": "previous"})
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "r", "run") as tmp:
            (tmp / "student.pt").write_text("half")
            raise RuntimeError("killed mid-write")
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
    assert (tmp_path / "r" / "metrics.json").read_text() == "previous"


def test_a_deleted_file_makes_the_output_incomplete(tmp_path):
    write(tmp_path / "r", **{"metrics.json": "{}", "student.pt": "w"})
    (tmp_path / "r" / "student.pt").unlink()
    assert verify_complete(tmp_path / "r", "run") == "missing student.pt"
    (tmp_path / "r" / MARKER).unlink()
    assert "no completion marker" in verify_complete(tmp_path / "r", "run")


def test_an_output_under_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match=r"cannot create output .*f/run: .*f is a file, not a folder"):
        check_output(tmp_path / "f" / "run", "run")


@pytest.mark.parametrize("command", [
    ["train", "--epochs", "1"],
    ["sweep", "--scenarios", "2->11", "--seeds", "0", "--methods", "kd"],
])
def test_commands_refuse_before_any_work(tmp_path, capsys, command):
    """Checked before loading data or training (the old behaviour: minutes of work, then the user's files gone)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    out = mine / "summary" if command[0] == "sweep" else mine
    if command[0] == "sweep":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    code = main([*command, "--out", str(mine), "--data-dir", str(tmp_path / "no-data-needed")])
    err = capsys.readouterr().err
    assert code == 2 and "did not write (keep.txt)" in err, err
    assert (out / "keep.txt").read_text() == "mine"


def test_build_refuses_a_file_as_output_before_converting(tmp_path, capsys):
    (tmp_path / "out").write_text("not a folder")
    code = main(["build", "--board", "esp32", "--run", str(tmp_path / "no-run"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "is a file, not a folder" in err, err
