"""``_core.Recorder.start`` takes a ``RecordOptions`` whole (issue 21 item 1): every field reaches
the recording, and the core's checks (``fprofile::record::RecordOptions::validate``) answer a bad
one with a ``ValueError`` naming it, before anything is installed."""

import pytest

from fprofile_jupyter._core import Recorder
from fprofile_jupyter._options import RecordOptions

WORK = "def f(n):\n    return n\n"


def options(path, **kw):
    kw.setdefault("max_events", Recorder.DEFAULT_MAX_EVENTS)
    return RecordOptions(subs=(str(path),), **kw)


@pytest.fixture
def work(tmp_path):
    p = tmp_path / "optwork.py"
    p.write_text(WORK)
    ns = {}
    exec(compile(WORK, str(p), "exec"), ns)
    return p, ns["f"]


def test_every_field_is_read(work, tmp_path):
    path, f = work
    rec = Recorder()
    # subs, max_events and the flight recorder's window, from the object's attributes
    rec.start(options(path, keep_last=("events", 4)))
    for i in range(10):
        f(i)
    window = rec.snapshot()
    assert len(window) == 2  # the last 4 events: two calls
    rec.stop()
    # exclude and include: excluded, then included again by name
    rec.start(options(path, exclude=(path.name,)))
    f(1)
    assert len(rec.stop()) == 0
    rec.start(options(path, exclude=(path.name,), include=(path.name,)))
    f(1)
    assert len(rec.stop()) == 1
    # the outfile (PYME text, written live)
    out = tmp_path / "calls.txt"
    rec.start(options(path, outfile=str(out)))
    f(1)
    rec.stop()
    assert "optwork.py" in out.read_text()
    # the cap
    rec.start(options(path, max_events=2))
    for i in range(5):
        f(i)
    rec.stop()
    assert rec.stats.cap_reached == 2


@pytest.mark.parametrize("bad, message", [
    (dict(max_events=0), "max_events must be at least 1"),
    (dict(keep_last=("ns", 0)), "keep_last must be a positive"),
    (dict(keep_last=("minutes", 3)), "keep_last must be a positive"),
    (dict(keep_last=("events", 5), outfile="x.fpt"), "keep_last keeps the last window in memory"),
])
def test_bad_options_are_one_value_error(work, bad, message):
    path, _ = work
    rec = Recorder()
    with pytest.raises(ValueError, match=message):
        rec.start(options(path, **bad))
    assert not rec.active and not Recorder.is_profiling()


def test_not_an_options_object(work):
    with pytest.raises(AttributeError, match="has no attribute 'subs'"):
        Recorder().start(["a list of subs is not the options"])
    with pytest.raises(TypeError, match="max_events"):
        Recorder().start(options(work[0], max_events=-1))
    assert not Recorder.is_profiling()
