"""A `headstart serve` subprocess on a free loopback port, and a tiny HTTP client for it."""

import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

KEY = "s3cret-key"


class Server:
    """A `headstart serve` subprocess; its stderr is collected for the log lines."""

    def __init__(self, model_dir, *flags: str) -> None:
        cmd = [sys.executable, "-m", "headstart", "serve", str(model_dir), "--port", "0", *flags]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(120):
            self.proc.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
            if found and not self.url:
                self.url = found.group(1)
            if "Application startup complete" in line:
                self.ready.set()

    def call(self, path, body=None, key=KEY, raw=None, headers=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET")
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path, body=None, **kw):
        status, headers, payload = self.call(path, body, **kw)
        return status, headers, json.loads(payload)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)
