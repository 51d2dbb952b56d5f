"""`_core.merge`: traces of several processes into one (clock offsets, bands, bad input)."""

import pytest

from fprofile_jupyter import _core


def part(t0, os_id, fname="f"):
    """One thread: fname calls g, absolute times from t0."""
    codes = [("/app/a.py", fname, 1), ("/app/a.py", "g", 5)]
    events = [(t0 + 10, 0, False), (t0 + 20, 1, False), (t0 + 30, 1, True), (t0 + 100, 0, True)]
    return _core._build_trace(codes, [(os_id, "MainThread", events)], start_ns=t0, stop_ns=t0 + 200)


def test_parts_on_one_clock_keep_their_times_and_codes_are_shared():
    m = _core.merge([
        {"trace": part(1_000, 1), "process": {"pid": 10, "name": "parent"}},
        {"trace": part(1_050, 2, "h"), "process": {"pid": 11, "parent_pid": 10, "name": "child", "exit_status": 0}},
    ])
    assert len(m) == 4
    assert len(m.threads) == 2
    # f, g from the first part; h (g shared) from the second.
    names = sorted({c.function for c in m.calls()})
    assert names == ["f", "g", "h"]
    starts = sorted(c.start_ns for c in m.calls())
    assert starts == [10, 20, 60, 70]
    assert m.metadata["processes"] == "2"


def test_a_clock_offset_moves_a_part_and_an_unaligned_part_is_named():
    m = _core.merge([
        {"trace": part(1_000, 1)},
        {"trace": part(6_050, 2), "process": {"pid": 11, "clock_offset_ns": -5_000, "clock_uncertainty_ns": 30}},
    ])
    assert sorted(c.start_ns for c in m.calls()) == [10, 20, 60, 70]
    m = _core.merge([
        {"trace": part(1_000, 1), "process": {"pid": 10}},
        {"trace": part(900_000, 2), "process": {"pid": 11, "name": "far", "aligned": False}},
    ])
    assert sorted(c.start_ns for c in m.calls()) == [10, 10, 20, 20]
    assert "far (pid 11)" in m.metadata["warning.clock_unaligned"]


def test_bands_attach_to_their_thread_or_to_a_thread_of_their_own(tmp_path):
    m = _core.merge([
        {"trace": part(1_000, 1)},
        {"trace": part(1_050, 2), "bands": [(2, 1_055, 1_160, "task-a"), (99, 1_060, 1_070, "task-b")]},
    ])
    # The band on an unrecorded thread (99) gave it a thread with no calls.
    assert len(m.threads) == 3
    assert len(m) == 4
    back = _core.load_bytes(m.to_bytes())
    assert len(back) == 4


@pytest.mark.parametrize(
    "parts, message",
    [
        ([], "nothing to merge"),
        (["x"], "part 0 must be a dict"),
        ([{"trace": 3}], "must be a Trace"),
        ([{}], 'has no "trace"'),
        ([{"trace": None, "extra": 1}], 'unknown key "extra"'),
        ([{"trace": part(0, 1), "process": {"colour": 1}}], 'unknown process key "colour"'),
        ([{"trace": part(0, 1), "process": {"pid": "x"}}], 'process["pid"] must be a non-negative int'),
        ([{"trace": part(0, 1), "bands": [(1, 5)]}], "band 0 must be"),
        ([{"trace": part(0, 1), "bands": [(1, 9, 5, "k")]}], "ends before it starts"),
    ],
)
def test_bad_parts_give_one_clear_error(parts, message):
    with pytest.raises(ValueError) as e:
        _core.merge(parts)
    assert message in str(e.value)
