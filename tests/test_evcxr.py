"""notebooks/rust_trace.ipynb: the Rust (evcxr) notebook.

Checked three ways:
- its code cells are compiled and run as one plain Rust program against the crate (always, with no
  kernel), checking what each cell prints and that the last cell emits evcxr's text/html mime output;
- the exact mime output is checked in Rust (rust/core/tests/html_assets.rs, evcxr_mime_bundle_is_exact);
- the notebook is executed in the real evcxr kernel: scripts/test.sh builds it once per machine (about
  9 minutes of compiling, see docs/viewer.md) and installs its kernelspec, so CI always runs this one;
  a developer's pytest without the kernel skips it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "rust_trace.ipynb"


def code_cells():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


def as_program(cells):
    """The cells as the body of main(): `:dep` lines dropped; a cell's final expression (evcxr shows
    it) printed with Debug, and a final `trace` displayed with evcxr_display as evcxr would."""
    body = []
    for src in cells:
        lines = [line for line in src.rstrip().splitlines() if not line.startswith(":dep")]
        if not lines:
            continue
        last = lines[-1]
        if last.strip() == "trace":
            lines[-1] = "trace.evcxr_display();"
        elif not last.rstrip().endswith((";", "}")):
            lines[-1] = f'println!("{{:?}}", {last.strip()});'
        body.append("\n".join(lines))
    return "fn main() {\n" + textwrap.indent("\n\n".join(body), "    ") + "\n}\n"


def test_notebook_is_stripped_and_uses_the_rust_kernel():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "rust"
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    cells = code_cells()
    assert cells[0].strip() == ':dep fprofile = { path = "../rust/core" }'
    assert cells[-1].strip() == "trace"


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_notebook_cells_run_as_a_rust_program(tmp_path):
    proj = tmp_path / "nbcheck"
    (proj / "src").mkdir(parents=True)
    (proj / "Cargo.toml").write_text(textwrap.dedent(f"""\
        [package]
        name = "nbcheck"
        version = "0.0.0"
        edition = "2021"
        publish = false

        [dependencies]
        fprofile = {{ path = "{ROOT / 'rust' / 'core'}" }}

        [workspace]
        """))
    (proj / "src" / "main.rs").write_text(as_program(code_cells()))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target" / "nbcheck"))
    r = subprocess.run(["cargo", "run", "--quiet", "--manifest-path", str(proj / "Cargo.toml")],
                       cwd=run_dir, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    out = r.stdout
    assert (run_dir / "rust_example.fpt").read_bytes()[:4] == b"FPRF"
    assert '"wrote rust_example.fpt"' in out
    assert "(2, 11)" in out  # threads, calls
    assert "no_such_file.fpt: No such file or directory" in out  # fprofile::load's error names the file
    assert "MainThread (lane 0):" in out and "worker (lane 1):" in out
    assert "  run 89000 ns" in out and "    compute 18000 ns" in out
    assert "compute    calls  8" in out
    begin = out.index("EVCXR_BEGIN_CONTENT text/html\n")
    end = out.index("\nEVCXR_END_CONTENT\n")
    html = out[begin + len("EVCXR_BEGIN_CONTENT text/html\n"):end]
    assert html.startswith('<iframe class="fprofile-frame"') and "srcdoc=" in html
    (tmp_path / "evcxr_output.html").write_text(html, encoding="utf-8")


def assert_output_draws(browser, html: str, path: Path, screenshot: str) -> None:
    """The text/html output, placed in a page as a notebook would, shows the timeline offline."""
    path.write_text(f"<!DOCTYPE html><html><body style='margin:0'>{html}</body></html>", encoding="utf-8")
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    context.set_offline(True)
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        frame = page.frame_locator("iframe.fprofile-frame")
        frame.locator("canvas.fprofile-zoom[data-drawn]:not([data-drawn='0'])").wait_for(timeout=30_000)
        assert frame.locator(".fprofile-root").get_attribute("data-calls") == "11"
        assert frame.locator("table.fprofile-summary tbody tr").count() == 4
        page.screenshot(path=screenshot)
    finally:
        context.close()


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_evcxr_output_shows_the_timeline(browser, tmp_path, artifacts_dir):
    test_notebook_cells_run_as_a_rust_program(tmp_path)
    html = (tmp_path / "evcxr_output.html").read_text(encoding="utf-8")
    assert_output_draws(browser, html, tmp_path / "page.html", os.path.join(artifacts_dir, "evcxr_output.png"))


def evcxr_kernel_available():
    if shutil.which("evcxr_jupyter") is None:
        return False
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return "rust" in KernelSpecManager().find_kernel_specs()
    except Exception:
        return False


@pytest.mark.skipif(not evcxr_kernel_available(), reason="the evcxr Jupyter kernel is not installed (see docs/viewer.md)")
def test_notebook_in_the_evcxr_kernel(tmp_path, browser, artifacts_dir):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    work = tmp_path / "notebooks"
    work.mkdir()
    (tmp_path / "rust").symlink_to(ROOT / "rust")  # the notebook's `:dep` path, ../rust/core
    NotebookClient(nb, timeout=600, kernel_name="rust", resources={"metadata": {"path": str(work)}}).execute()
    last = nb.cells[-1]
    html = "".join(o.get("data", {}).get("text/html", "") for o in last.outputs)
    assert html.startswith('<iframe class="fprofile-frame"'), last.outputs
    walk_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("for th in"))
    walk = "".join(o.get("text", "") for o in walk_cell.outputs)
    assert "MainThread (lane 0):" in walk
    assert_output_draws(browser, html, tmp_path / "page.html", os.path.join(artifacts_dir, "evcxr_kernel_output.png"))
