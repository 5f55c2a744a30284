"""Headless Chromium for tests of tokkit's HTML pages, driven over the DevTools protocol through a pipe
(``--remote-debugging-pipe``: no port, no network, no third-party client).

    from browser_helpers import chromium_or_skip, Browser
    with Browser(chromium_or_skip(), tmp_path) as browser:
        browser.open(tmp_path / "report" / "index.html")
        problems = browser.media_problems()          # [] when every <img> and <audio>/<video> loaded
        browser.click("table#results th:nth-child(4)")
        values = browser.evaluate("[...document.querySelectorAll('td')].map(td => td.textContent)")
        browser.screenshot(tmp_path / "page.png")

The browser runs with ``--headless --no-sandbox --disable-gpu`` and a fresh profile folder under the
test's tmp_path; it is killed when the ``with`` block ends. ``chromium_or_skip`` skips the test with a
visible reason only when no Chromium is installed (CI installs Debian's ``chromium`` in ``.ci/run``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Path of an installed Chromium (or Chrome), or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_or_skip() -> str:
    """The Chromium binary; the calling test is skipped with the reason when none is installed."""
    found = find_chromium()
    if found is None:
        pytest.skip("headless browser test needs Chromium: apt-get install chromium (CI installs it in .ci/run)")
    return found


class BrowserError(AssertionError):
    """The browser failed, timed out or reported a protocol error."""


class Browser:
    """One headless Chromium with one page, driven by DevTools protocol commands over a pipe."""

    def __init__(self, binary: str, workdir: str | os.PathLike, *, width: int = 1280, height: int = 900,
                 timeout: float = 60.0) -> None:
        self.binary, self.timeout = binary, timeout
        self.profile = Path(workdir) / "chromium-profile"
        self.profile.mkdir(parents=True, exist_ok=True)
        self.size = (width, height)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []
        self.process: subprocess.Popen | None = None
        self.session: str | None = None
        self.console: list[str] = []

    # -- lifetime ---------------------------------------------------------------------------------
    def __enter__(self) -> "Browser":
        to_browser_read, self._write_fd = os.pipe()
        self._read_fd, from_browser_write = os.pipe()

        def wire_pipes() -> None:  # the browser reads commands on fd 3 and writes replies on fd 4
            high_read = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_write = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
            os.dup2(high_read, 3)  # dup2 makes the copies inheritable
            os.dup2(high_write, 4)

        args = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check", "--mute-audio",
                "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank"]
        self.process = subprocess.Popen(args, preexec_fn=wire_pipes, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=False)
        os.close(to_browser_read)
        os.close(from_browser_write)
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.command("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.command("Page.enable")
        self.command("Runtime.enable")
        self.command("Emulation.setDeviceMetricsOverride", {"width": self.size[0], "height": self.size[1],
                                                             "deviceScaleFactor": 1, "mobile": False})
        return self

    def __exit__(self, *exc: Any) -> None:
        for fd in (self._write_fd, self._read_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)

    # -- the protocol -------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if ready:
                chunk = os.read(self._read_fd, 1 << 20)
                if not chunk:
                    error = self.process.stderr.read().decode("utf-8", "replace")[-2000:] if self.process else ""
                    raise BrowserError(f"Chromium closed its pipe: {error}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def command(self, method: str, params: dict | None = None, *, timeout: float | None = None) -> dict:
        """Send one DevTools command (to the page once attached) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._note_event(reply)

    def _note_event(self, event: dict) -> None:
        if event.get("method") == "Runtime.consoleAPICalled":
            args = event["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        elif event.get("method") == "Runtime.exceptionThrown":
            self.console.append("exception: " + json.dumps(event["params"].get("exceptionDetails", {}))[:500])
        self._events.append(event)

    def wait_event(self, method: str, timeout: float | None = None) -> dict:
        """The next event called ``method`` (events that arrived earlier count)."""
        for index, event in enumerate(self._events):
            if event.get("method") == method:
                return self._events.pop(index)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            event = self._read_message(deadline)
            self._note_event(event)
            if event.get("method") == method:
                self._events.remove(event)
                return event

    # -- what tests use ---------------------------------------------------------------------------
    def open(self, path: str | os.PathLike) -> None:
        """Load a local file and wait for its load event."""
        self._events.clear()
        self.command("Page.navigate", {"url": Path(path).resolve().as_uri()})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str, *, timeout: float | None = None) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.command("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                   "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {json.dumps(result['exceptionDetails'])[:1000]}")
        return result.get("result", {}).get("value")

    def media_problems(self, timeout_ms: int = 20000) -> list[str]:
        """One line per <img> that did not decode (naturalWidth 0) and per <audio>/<video> that did not load
        its metadata (an error, or no duration); [] when everything loaded. Also fails when there is none."""
        script = """
        (async () => {
          const problems = [];
          const images = [...document.images];
          await Promise.all(images.map(img => img.decode().catch(() => null)));
          images.forEach((img, i) => { if (!img.complete || img.naturalWidth === 0)
            problems.push('img ' + i + ' (' + (img.alt || img.src.slice(0, 40)) + ') did not load'); });
          const media = [...document.querySelectorAll('audio, video')];
          await Promise.all(media.map(m => new Promise(done => {
            if (m.readyState >= 1 || m.error) return done();
            m.addEventListener('loadedmetadata', done, {once: true});
            m.addEventListener('error', done, {once: true});
            if (m.preload === 'none') m.load();
            setTimeout(done, TIMEOUT);
          })));
          media.forEach((m, i) => { if (m.error || m.readyState < 1 || !(m.duration > 0))
            problems.push(m.tagName.toLowerCase() + ' ' + i + ' (' + (m.title || '') + ') did not load: ' +
                          (m.error ? 'error ' + m.error.code : 'readyState ' + m.readyState)); });
          return {problems: problems, images: images.length, media: media.length};
        })()
        """.replace("TIMEOUT", str(timeout_ms))
        found = self.evaluate(script, timeout=timeout_ms / 1000 + 30)
        self.counts = {"images": found["images"], "media": found["media"]}
        return found["problems"]

    def click(self, selector: str) -> None:
        """Click the centre of the first element matching ``selector`` with real mouse events."""
        box = self.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
        if box is None:
            raise BrowserError(f"nothing matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.command("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                      "clickCount": 1})

    def screenshot(self, path: str | os.PathLike, *, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole page by default) and return its path."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            width, height = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": max(width, 1), "height": min(max(height, 1), 16000), "scale": 1})
        data = self.command("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path
