"""The static picture of a trace (issue 20, item 2; rust/core/src/formats/png): ``Trace.picture_png()``,
``trace.save("x.png")`` and ``fprofile export x.fpt -o x.png``, on real recordings, decoded here
with a small PNG reader (zlib and the five PNG filters, no Pillow) and checked pixel by pixel: two
busy threads are two bands of call colours with background between them. Bad input (a width out
of range or not an int, an unwritable path) is one clear line."""
import os
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest

import fprofile_jupyter as fj
from fprofile_jupyter import _core

ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
ENV.pop("PYTHONWARNINGS", None)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def decode_png(data: bytes):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or palette PNG."""
    assert data[:8] == PNG_MAGIC, data[:8]
    pos, idat, palette = 8, b"", None
    width = height = color = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 3) and interlace == 0, (depth, color, interlace)
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    bpp = 3 if color == 2 else 1
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        if color == 2:
            rows.append([tuple(line[i:i + 3]) for i in range(0, stride, 3)])
        else:
            rows.append([palette[v] for v in line])
    return width, height, rows


def coloured(px) -> bool:
    """A call's colour (saturated), not the greys and whites of text, grid and background."""
    return max(px) - min(px) > 40 and max(px) > 120


def bands(rows, x):
    """Runs of rows whose pixel at column x is a call colour: [(first, last)]."""
    out = []
    for y, row in enumerate(rows):
        if coloured(row[x]):
            if out and out[-1][1] == y - 1:
                out[-1][1] = y
            else:
                out.append([y, y])
    return out


def busy(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def work_a():
    return busy(0.25)


def work_b():
    return busy(0.25)


@pytest.fixture(scope="module")
def two_threads():
    """A real recording: two threads busy at the same time, each in its own function."""
    with fj.profile(subs=[os.path.basename(__file__)]) as prof:
        ta = threading.Thread(target=work_a, name="thread-a")
        tb = threading.Thread(target=work_b, name="thread-b")
        ta.start(); tb.start(); ta.join(); tb.join()
    return prof.trace


def test_picture_decodes_and_shows_two_threads_as_two_bands(two_threads):
    data = two_threads.picture_png()
    assert isinstance(data, bytes) and len(data) < 60 * 1024
    w, h, rows = decode_png(data)
    assert w == 960 and 80 < h < 700
    # a column in the middle of the run: both threads were busy there, each a band of its
    # function's colour, with background (not call colours) between the bands
    x = w * 3 // 5
    found = bands(rows, x)
    tall = [b for b in found if b[1] - b[0] >= 2]
    assert len(tall) >= 2, found
    first, second = tall[0], tall[-1]
    assert second[0] > first[1] + 3
    colours = {rows[(b[0] + b[1]) // 2][x] for b in (first, second)}
    assert len(colours) == 2, f"two functions, two colours: {colours}"
    between = [rows[y][x] for y in range(first[1] + 1, second[0])]
    assert any(not coloured(px) for px in between), between
    # the two threads' names are drawn in the gutter (dark text pixels left of the plot)
    assert sum(1 for row in rows for px in row[:80] if max(px) < 90) > 50
    # the width asked for
    w2, _, _ = decode_png(two_threads.picture_png(width_px=500))
    assert w2 == 500


def test_save_and_export_write_the_picture(two_threads, tmp_path):
    path = tmp_path / "run.png"
    two_threads.save(path)
    w, _, rows = decode_png(path.read_bytes())
    assert w == 960 and len(bands(rows, w * 3 // 5)) >= 2
    two_threads.save(tmp_path / "narrow.picture", "png", width_px=400, title="narrow")
    assert decode_png((tmp_path / "narrow.picture").read_bytes())[0] == 400

    fpt = tmp_path / "run.fpt"
    two_threads.save(fpt)
    out = tmp_path / "exported.png"
    proc = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "export", str(fpt), "-o", str(out), "--width", "640"],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stderr
    w, _, rows = decode_png(out.read_bytes())
    assert w == 640 and len(bands(rows, w * 3 // 5)) >= 2
    # convert writes it too (the format registry)
    conv = tmp_path / "converted.png"
    proc = subprocess.run([sys.executable, "-m", "fprofile_jupyter", "convert", str(fpt), str(conv)],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert decode_png(conv.read_bytes())[0] == 960
    from fprofile_jupyter._io import SAVE_FORMATS

    assert "png" in SAVE_FORMATS


def test_an_empty_trace_is_its_caption():
    empty = _core._build_trace([], [])
    w, h, rows = decode_png(empty.picture_png())
    assert w == 960 and h < 70
    assert not any(coloured(px) for row in rows for px in row)
    assert sum(1 for row in rows for px in row if max(px) < 120) > 100, "the caption's text"


def test_a_large_trace_loaded_from_a_file(tmp_path):
    """Above the windowed limit (1M calls): the overview of the whole run, small and decodable."""
    path = tmp_path / "large.fpt"
    _core._synthetic_trace(1_200_000, 8, 5).save(path)
    trace = fj.load(path)
    data = trace.picture_png()
    assert len(data) < 60 * 1024, len(data)
    w, h, rows = decode_png(data)
    x = w * 3 // 5
    assert len([b for b in bands(rows, x) if b[1] - b[0] >= 2]) >= 8, "every thread's lane has calls"


def test_bad_widths_and_paths_are_one_clear_error(two_threads, tmp_path):
    for bad in (0, 100, 5000, 10 ** 40, -3):
        with pytest.raises(ValueError, match=r"^width of -?\d+ px: a picture is 320 to 4096 pixels wide$"):
            two_threads.picture_png(width_px=bad)
        with pytest.raises(ValueError, match="a picture is 320 to 4096 pixels wide"):
            two_threads.save(tmp_path / "bad.png", width_px=bad)
    assert not (tmp_path / "bad.png").exists()
    for bad in ("800", 800.0, True):
        with pytest.raises(TypeError, match="width_px must be an int"):
            two_threads.picture_png(width_px=bad)
    with pytest.raises(ValueError, match="width_px is the width of a png picture"):
        two_threads.save(tmp_path / "x.fpt", width_px=800)
    with pytest.raises(OSError):
        two_threads.save(tmp_path / "no" / "such" / "dir.png")

    fpt = tmp_path / "run.fpt"
    two_threads.save(fpt)

    def export(*args):
        return subprocess.run([sys.executable, "-m", "fprofile_jupyter", "export", str(fpt), *args],
                              env=ENV, capture_output=True, text=True, timeout=120)

    for args, rc, fragment in (
        (["-o", str(tmp_path / "w.png"), "--width", "0"], 1, "width of 0 px: a picture is 320 to 4096 pixels wide"),
        (["-o", str(tmp_path / "w.png"), "--width", "99999999999999999999999"], 1, "width of 99999999999999999999999 px"),
        (["-o", str(tmp_path / "missing" / "w.png")], 1, "No such file or directory"),
        (["-o", str(tmp_path / "w.html"), "--width", "500"], 2, "--width is the width of a picture"),
    ):
        proc = export(*args)
        err = proc.stderr.strip()
        assert proc.returncode == rc, (args, proc.returncode, err)
        assert "Traceback" not in proc.stderr and len(err.splitlines()) == 1, err
        assert err.startswith("fprofile: error: ") and fragment in err, err
    assert not (tmp_path / "w.png").exists()
