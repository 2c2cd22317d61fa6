"""The mirror planner, pure: trees in, plan out."""

from __future__ import annotations

import io
from types import MappingProxyType

from ftpferry.cli.progress import PlainProgress, QuietProgress, RichProgress, make_progress
from ftpferry.sync import FileState, Transfer, TransferOutcome, Tree, plan_mirror

T0 = 1_700_000_000.0


def tree(
    files: dict[str, tuple[int, float]], dirs: set[str] | None = None, precision: float = 1.0
) -> Tree:
    states = {
        path: FileState(path=path, size=size, mtime=mtime) for path, (size, mtime) in files.items()
    }
    implied = {"/".join(p.split("/")[: i + 1]) for p in files for i in range(p.count("/"))}
    return Tree(
        files=MappingProxyType(states),
        dirs=frozenset((dirs or set()) | implied),
        time_precision=precision,
    )


def test_new_files_and_directories_parents_first() -> None:
    plan = plan_mirror(tree({"a/b/c.txt": (3, T0), "top": (1, T0)}), Tree(exists=False))
    assert plan.create_root
    assert plan.mkdirs == ("a", "a/b")
    assert {item.path for item in plan.transfers} == {"a/b/c.txt", "top"}
    assert all(item.reason == "new" for item in plan.transfers)


def test_identical_trees_plan_nothing() -> None:
    files = {"x": (10, T0), "d/y": (0, T0 + 5)}
    plan = plan_mirror(tree(files), tree(files))
    assert plan.empty
    assert set(plan.unchanged) == {"x", "d/y"}


def test_size_or_time_differences_are_changes() -> None:
    source = tree({"size": (10, T0), "time": (10, T0 + 100), "same": (10, T0)})
    target = tree({"size": (12, T0), "time": (10, T0), "same": (10, T0 + 0.5)})
    plan = plan_mirror(source, target)
    assert {(item.path, item.reason) for item in plan.transfers} == {
        ("size", "changed"),
        ("time", "changed"),
    }


def test_list_precision_hides_rounding() -> None:
    source = tree({"f": (10, T0 + 59)}, precision=60.0)
    target = tree({"f": (10, T0)})
    assert plan_mirror(source, target).empty


def test_without_exact_times_only_a_newer_source_counts() -> None:
    source = tree({"old": (10, T0), "new": (10, T0 + 100)})
    target = tree({"old": (10, T0 + 50), "new": (10, T0 + 50)})  # times of the uploads
    plan = plan_mirror(source, target, exact_times=False)
    assert [item.path for item in plan.transfers] == ["new"]


def test_partial_newer_copy_resumes_and_older_shorter_copy_is_resent() -> None:
    source = tree({"partial": (100, T0), "outdated": (100, T0 + 100), "empty": (100, T0)})
    target = tree({"partial": (40, T0 + 30), "outdated": (40, T0), "empty": (0, T0 + 30)})
    plan = plan_mirror(source, target)
    by_path = {item.path: item for item in plan.transfers}
    assert by_path["partial"] == Transfer(
        path="partial", size=100, mtime=T0, offset=40, reason="resume"
    )
    assert by_path["partial"].remaining == 60
    assert (by_path["outdated"].offset, by_path["outdated"].reason) == (0, "changed")
    assert by_path["empty"].offset == 0
    assert plan.transfer_bytes == 60 + 100 + 100


def test_a_shorter_copy_as_old_as_its_source_within_the_precision_is_resent() -> None:
    """LIST says minutes: a copy made at 11:22:05 of a file then rewritten, and
    grown, at 11:22:40 looks as old as its source; appending would mix versions."""
    source = tree({"f": (100, T0 + 40)}, precision=60.0)
    target = tree({"f": (40, T0 + 5)})
    (item,) = plan_mirror(source, target).transfers
    assert (item.offset, item.reason) == (0, "changed")
    later = plan_mirror(tree({"f": (100, T0)}, precision=60.0), tree({"f": (40, T0 + 61)}))
    assert (later.transfers[0].offset, later.transfers[0].reason) == (40, "resume")


def test_without_exact_times_a_shorter_copy_is_resent_in_full() -> None:
    """Every upload to a server without MFMT carries the time of the upload, so
    a complete copy of an older version looks like an interrupted one: never
    resume there (vsftpd: a file grown after its upload was appended to)."""
    source = tree({"grown": (100, T0 + 10)})
    target = tree({"grown": (40, T0 + 30)})  # uploaded at T0 + 30, source rewritten since
    (item,) = plan_mirror(source, target, exact_times=False).transfers
    assert (item.offset, item.reason) == (0, "changed")


def test_largest_transfers_first() -> None:
    plan = plan_mirror(tree({"s": (1, T0), "l": (1000, T0), "m": (50, T0)}), Tree())
    assert [item.path for item in plan.transfers] == ["l", "m", "s"]


def test_delete_removes_files_then_directories_deepest_first() -> None:
    source = tree({"keep": (1, T0)})
    target = tree({"keep": (1, T0), "gone/deep/x": (1, T0), "gone/y": (1, T0), "z": (1, T0)})
    assert plan_mirror(source, target).delete_files == ()
    plan = plan_mirror(source, target, delete=True)
    assert plan.delete_files == ("gone/deep/x", "gone/y", "z")
    assert plan.delete_dirs == ("gone/deep", "gone")


def test_delete_keeps_directories_that_hold_excluded_entries() -> None:
    """What --exclude left out of the target scan keeps its directories (and theirs)."""
    source = tree({"keep.txt": (1, T0)})
    target = tree({"keep.txt": (1, T0), "old/deeper/y.txt": (1, T0), "gone/z.txt": (1, T0)})
    target = Tree(
        files=target.files,
        dirs=target.dirs,
        excluded=frozenset({"old/deeper/x.tmp"}),
    )
    plan = plan_mirror(source, target, delete=True)
    assert set(plan.delete_files) == {"old/deeper/y.txt", "gone/z.txt"}
    assert plan.delete_dirs == ("gone",)


def test_kind_conflicts_are_left_alone_without_delete() -> None:
    source = tree({"name/inside": (1, T0), "other": (1, T0)})
    target = tree({"name": (1, T0), "other/x": (1, T0)})
    plan = plan_mirror(source, target)
    assert {conflict.path for conflict in plan.conflicts} == {"name", "other"}
    assert plan.transfers == () and plan.mkdirs == ()


def test_kind_conflicts_are_cleared_with_delete() -> None:
    source = tree({"name/inside": (1, T0), "other": (1, T0)})
    target = tree({"name": (1, T0), "other/x": (1, T0)})
    plan = plan_mirror(source, target, delete=True)
    assert [(item.path, item.is_dir) for item in plan.clear] == [
        ("name", False),
        ("other/x", False),
        ("other", True),
    ]
    assert plan.mkdirs == ("name",)
    assert {item.path for item in plan.transfers} == {"name/inside", "other"}
    assert plan.conflicts == ()
    assert plan.delete_files == () and plan.delete_dirs == ()


def test_progress_view_follows_the_stream() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(make_progress(quiet=False, stream=io.StringIO()), PlainProgress)
    assert isinstance(make_progress(quiet=True, stream=Terminal()), QuietProgress)
    terminal = Terminal()
    view = make_progress(quiet=False, stream=terminal)
    assert isinstance(view, RichProgress)
    item = Transfer(path="big.bin", size=2_000_000, mtime=None)
    view.begin(files=2, total_bytes=2_000_000)
    view.item_started(0, item)
    view.item_progress(0, item, 1_000_000, 2_000_000)
    view.item_finished(0, TransferOutcome(item=item, direction="download", error="550 gone"))
    view.close()
    assert "failed big.bin: 550 gone" in terminal.getvalue()


def test_plain_progress_lines() -> None:
    stream = io.StringIO()
    view = PlainProgress(stream)
    item = Transfer(path="dir/a b.txt", size=2000, mtime=None, offset=500, reason="resume")
    view.item_finished(
        0,
        TransferOutcome(
            item=item,
            direction="download",
            transferred=1500,
            offset=500,
            seconds=0.5,
            data_command="EPSV",
        ),
    )
    assert stream.getvalue() == (
        "resumed at 500, downloaded dir/a b.txt: 1,500 bytes in 0.50 s (0.0 MB/s, EPSV)\n"
    )
