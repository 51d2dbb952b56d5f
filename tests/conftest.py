"""Shared fixtures. Browser: Debian's Chromium driven by Playwright (no browser download)."""
import os
import shutil
import socket

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]
CHROMIUM = os.environ.get("FPROFILE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """A headless Chromium shared by the browser tests of one session."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run the test command from the README, which installs it")
    from playwright.sync_api import sync_playwright

    work = tmp_path_factory.mktemp("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            env=dict(os.environ, XDG_CONFIG_HOME=str(work / "xdg"), TMPDIR=str(work)),
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts_dir():
    """Where tests save screenshots (kept after the run, under test-artifacts/)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS
