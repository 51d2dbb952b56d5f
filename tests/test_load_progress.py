"""Progress of long loads: the one-line bar of ``fprofile stats/convert/export FILE`` on a terminal
(a real pty; nothing when stderr is piped), the progress display of ``fprofile_jupyter.load`` in a
real Jupyter kernel (nbclient; nothing for a small file, nothing in a plain script).

The bar waits ``_progress.PROGRESS_DELAY_S`` (half a second) before it draws; the tests that must
see it set that to 0 in the process that loads, so nothing depends on how fast this machine is.
"""
from __future__ import annotations

import os
import pty
import struct
import subprocess
import sys
import zlib

import nbformat
import pytest
from nbclient import NotebookClient

import fprofile_jupyter
from fprofile_jupyter import _core

ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
ENV.pop("PYTHONWARNINGS", None)


def _u(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _s(v: int) -> bytes:
    return _u((v << 1) ^ (v >> 63) if v < 0 else v << 1)


def big_fpt(path, calls: int) -> None:
    """An .fpt (docs/format.md, version 2) of one thread of `calls` top-level calls with random
    code ids and random gaps below 128 ns: random bytes compress poorly, so the file is several MB
    (progress is reported every 4 MB of the file)."""
    seven = bytes(b & 0x7F for b in range(256))
    codes = os.urandom(calls).translate(bytes(b % 60 for b in range(256)))
    gaps = os.urandom(2 * calls).translate(seven)
    strings = [b"/app/work.py", b"MainThread", b""] + [f"f{i}".encode() for i in range(60)]
    body = bytearray(_u(0) + _u(len(strings)))
    for s in strings:
        body += _u(len(s)) + s
    body += _u(60)
    for i in range(60):
        body += _u(0) + _u(3 + i) + _u(i + 1)
    body += _u(1) + _u(1) + _u(0) + _u(2) + _u(2) + _s(0) + _u(sum(gaps)) + _u(0) + _s(0) + _u(0)  # one process
    body += _u(1) + _u(0) + _u(7) + _u(0) + _s(0) + _u(sum(gaps)) + _u(1) + _u(0) + _u(1)  # one thread, its name
    body += _u(calls) + codes + _u(0) + b"\x01" * (calls - 1) + _u(0) + gaps + _u(0)  # codes, pops, backs, gaps, flags
    body += _u(0) + _u(2) + b"{}"  # no bands, metadata {}
    with open(path, "wb") as f:
        f.write(b"FPRF" + struct.pack("<HHQ", 2, 1, len(body)) + zlib.compress(bytes(body), 1))


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big<b>.fpt"
    big_fpt(path, 4_000_000)
    assert path.stat().st_size > 2 * (4 << 20)  # several progress steps
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "small.fpt"
    _core._build_trace([("/a.py", "f", 1)], [(1, "T", [(1_000, 0, False), (2_000, 0, True)])]).save(path)
    return path


def test_the_big_file_is_a_valid_trace(big):
    t = _core.load(str(big))
    assert len(t) == 4_000_000 and len(t.threads) == 1


def cli_under_pty(args, delay_s=None):
    """Runs ``fprofile ARGS`` with stderr on a pseudo-terminal: (exit status, stdout, what the
    terminal received)."""
    setup = "" if delay_s is None else f"import fprofile_jupyter._progress as c; c.PROGRESS_DELAY_S = {delay_s}; "
    code = setup + f"import sys; from fprofile_jupyter.cli import main; sys.exit(main({list(map(str, args))!r}))"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=slave, env=ENV)
    finally:
        os.close(slave)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out.decode(), seen.decode(errors="replace")


def test_cli_bar_on_a_terminal_for_a_large_file(big):
    rc, out, tty = cli_under_pty(["stats", big, "--top", "3"], delay_s=0)
    assert rc == 0, tty
    assert "f" in out and "calls" in out.lower()
    bars = [p for p in tty.split("\r") if p.startswith("loading big<b>.fpt [")]
    assert bars, repr(tty[:400])
    assert any(p.rstrip().endswith("%") and "#" in p for p in bars)
    # the bar is erased at the end: a line of spaces, then the cursor back at column 0
    assert tty.rstrip("\n").endswith("\r"), repr(tty[-80:])


def test_cli_no_bar_for_a_small_file_on_a_terminal(small):
    rc, out, tty = cli_under_pty(["stats", small])
    assert rc == 0 and "\r" not in tty.replace("\r\n", "\n") and "loading" not in tty


def test_cli_no_bar_when_piped(big, tmp_path):
    code = ("import fprofile_jupyter._progress as c; c.PROGRESS_DELAY_S = 0; import sys; "
            f"from fprofile_jupyter.cli import main; sys.exit(main(['convert', {str(big)!r}, {str(tmp_path / 'x.fpt')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "loading" not in proc.stderr
    assert proc.stderr.startswith("fprofile: wrote")


def test_no_progress_in_a_plain_script(big):
    code = ("import fprofile_jupyter, fprofile_jupyter._progress as c; c.PROGRESS_DELAY_S = 0; "
            f"t = fprofile_jupyter.load({str(big)!r}); print(len(t))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "4000000\n" and proc.stderr == ""


def test_progress_callback_reports_bytes_read_of_a_large_fpt(big):
    seen = []
    t = fprofile_jupyter.load(big, progress=lambda done, total: seen.append((done, total)), backed=False)
    size = big.stat().st_size
    assert len(t) == 4_000_000
    assert seen[-1] == (size, size)
    assert len(seen) >= 3 and all(total == size for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # file-backed (what load() of a file this large gives by default): opened at once, not read
    seen.clear()
    t = fprofile_jupyter.load(big, progress=lambda done, total: seen.append((done, total)))
    assert t.file is not None and seen == [(0, size), (size, size)]


def test_notebook_progress_for_a_large_load_nothing_for_a_small_one(big, small, tmp_path):
    cut = tmp_path / "cut.fpt"
    cut.write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import fprofile_jupyter, fprofile_jupyter._progress as c\nc.PROGRESS_DELAY_S = 0"),
        nbformat.v4.new_code_cell(f"t = fprofile_jupyter.load({str(big)!r})\nprint(len(t))"),
        nbformat.v4.new_code_cell("c.PROGRESS_DELAY_S = 0.5"),
        nbformat.v4.new_code_cell(f"s = fprofile_jupyter.load({str(small)!r})"),
        nbformat.v4.new_code_cell("c.PROGRESS_DELAY_S = 0\n"
                                  f"try:\n    fprofile_jupyter.load({str(cut)!r})\n"
                                  "except fprofile_jupyter.FormatError as e:\n    print('FormatError', 'truncated' in str(e))"),
    ]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    big_out = nb.cells[1].outputs
    displays = [o for o in big_out if o.output_type == "display_data"]
    assert len(displays) == 1, big_out  # one display, updated in place (display_id), not one per step
    text = displays[0].data["text/plain"]
    assert text.startswith("loading big<b>.fpt: 4,000,000 calls in ") and text.endswith(" s"), text
    html = displays[0].data["text/html"]
    assert "big&lt;b&gt;.fpt" in html and "<b>" not in html  # the file name is text
    assert [o.text for o in big_out if o.output_type == "stream"] == ["4000000\n"]
    assert nb.cells[3].outputs == []  # a small file: no progress, no flicker
    # a load that fails part way: its display is marked stopped, the error is the caller's
    cut_out = nb.cells[4].outputs
    assert [o.data["text/plain"] for o in cut_out if o.output_type == "display_data"] == ["loading cut.fpt: stopped"]
    assert [o.text for o in cut_out if o.output_type == "stream"] == ["FormatError True\n"]
