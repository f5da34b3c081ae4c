"""Headless Chromium driven over the DevTools protocol (--remote-debugging-pipe: JSON messages ending in NUL on file
descriptors 3 and 4), so that a test can click through a page and read what a frame shows, scripts run."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class Browser:
    """One headless Chromium with a fresh profile; `open` loads a page in a new tab and returns its session."""

    def __init__(self, executable: str, timeout_s: float = 60.0):
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def descriptors():  # the protocol's fixed numbers in the child: commands on 3, answers on 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child, from_child)]  # neither clobbers the other
            for number, fd in zip((3, 4), high, strict=True):
                os.dup2(fd, number)
                os.set_inheritable(number, True)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=descriptors,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("no answer from chromium")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> str:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for(session, "document.readyState === 'complete'")
        return session

    def evaluate(self, session: str, expression: str, context: int | None = None) -> Any:
        params: dict[str, Any] = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context is not None:
            params["contextId"] = context
        result = self.send("Runtime.evaluate", params, session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails'].get('exception', {})}")
        return result["result"].get("value")

    def wait_for(self, session: str, condition: str, context: int | None = None) -> None:
        """Poll a JavaScript condition until it holds (the page's scripts render asynchronously)."""
        deadline = time.monotonic() + self.timeout_s
        while not self.evaluate(session, f"Boolean({condition})", context):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {condition}")
            time.sleep(0.2)

    def frame_text(self, session: str) -> list[str]:
        """The visible text (innerText) of every child frame of the page, each read in its own frame."""
        texts = []
        for child in self.send("Page.getFrameTree", session=session)["frameTree"].get("childFrames", []):
            frame = child["frame"]["id"]
            context = self.send("Page.createIsolatedWorld", {"frameId": frame}, session=session)["executionContextId"]
            self.wait_for(session, "document.readyState === 'complete' && document.body", context)
            texts.append(self.evaluate(session, "document.body.innerText", context))
        return texts

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
