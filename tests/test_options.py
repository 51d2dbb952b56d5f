"""The one RecordOptions of a recording (python/fprofile_jupyter/_options.py; issue 21 item 1): built
once by the front end when it starts, resolved (the defaults, ``+name`` entries, this package's
folder excluded), and what the session records with."""
from __future__ import annotations

import os
import warnings

import pytest

from fprofile_jupyter import ThreadProfiler, _recording, profile
from fprofile_jupyter._options import DEFAULT_MAX_EVENTS, RecordOptions
from fprofile_jupyter._subs import OWN_DIR, default_filter


@pytest.fixture
def built(monkeypatch):
    """Every RecordOptions the front ends build, in order."""
    made = []

    def counting(*args, **kwargs):
        options = RecordOptions(*args, **kwargs)
        made.append(options)
        return options

    monkeypatch.setattr(_recording, "RecordOptions", counting)
    return made


def test_profile_builds_one_resolved_options_per_start(built, tmp_path):
    prof = profile(subs=["mypkg/", "other/"], builtins=True, max_events=1234, outfile=tmp_path / "o.txt",
                   processes=False)
    assert built == [] and prof.options is None  # resolved when recording starts, not before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the entries match nothing here)
        with prof:
            assert len(built) == 1 and prof.options is built[0]
            assert prof.options == RecordOptions(subs=("mypkg/", "other/"), exclude=(OWN_DIR,), builtins=True,
                                                 max_events=1234, outfile=str(tmp_path / "o.txt"), processes=False)
            assert prof._session.options is prof.options  # the session takes it whole
        assert prof.options is None
        with prof:
            pass
    assert len(built) == 2


def test_the_defaults_and_plus_entries_resolve_into_the_filters_lists(built):
    with profile(processes=False) as prof:
        options = prof.options
    flt = default_filter()
    assert options.subs == tuple(flt.subs) and options.exclude == tuple(flt.exclude) and options.include == ()
    assert OWN_DIR in options.exclude and options.max_events == DEFAULT_MAX_EVENTS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(subs=["+urllib"], processes=False) as prof:
            options = prof.options
    assert options.subs == tuple(flt.subs) and options.include == ("urllib",)


def test_the_flight_recorder_records_this_process_only(built):
    with profile(keep_last="5s") as prof:  # processes=True is the default
        assert prof.options.keep_last == ("ns", 5_000_000_000)
        assert prof.options.processes is False and prof.options.outfile is None


def test_thread_profiler_builds_one_too(built, tmp_path):
    p = ThreadProfiler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p.profile_on(subs=["PYME/"], outfile=str(tmp_path / "p.fpt"), processes=False)
        try:
            assert len(built) == 1
            assert built[0] == RecordOptions(subs=("PYME/",), exclude=(OWN_DIR,), max_events=DEFAULT_MAX_EVENTS,
                                             outfile=str(tmp_path / "p.fpt"))
            assert built[0].streamed
        finally:
            p.profile_off()
    assert os.path.getsize(tmp_path / "p.fpt") > 0


def test_json_round_trip():
    options = RecordOptions(subs=("a",), exclude=("b",), include=("c",), builtins=True, max_events=9, outfile="x.fpt",
                            keep_last=("events", 100), processes=False, dask=True)
    assert RecordOptions.from_json(options.to_json()) == options
    assert options.to_json()["subs"] == ["a"] and options.to_json()["keep_last"] == ["events", 100]
    with pytest.raises(ValueError, match="recording options are not valid"):
        RecordOptions.from_json({"subs": ["a"]})
