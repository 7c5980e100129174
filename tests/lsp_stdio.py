"""A small LSP client over a subprocess's pipes, for the tests that pytest-lsp cannot express (a client that
disappears, a flood of changes) and for Pythons pytest-lsp does not support (3.9). Plain JSON-RPC: the
messages are the protocol's, written by hand."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional


def file_uri(path: Path) -> str:
    return Path(path).resolve().as_uri()


class StdioClient:
    def __init__(self, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
                 command: Optional[List[str]] = None) -> None:
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "autogradlint", "server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=cwd, env=full_env)
        self.messages: "queue.Queue[dict]" = queue.Queue()
        self.notifications: List[dict] = []  # not yet taken by wait_for
        self.log: List[dict] = []  # every notification, in order
        self._next_id = 0
        self._responses: Dict[int, dict] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = b""
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    # ---- wire
    def _read(self) -> None:
        out = self.process.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                return
            body = out.read(length)
            if len(body) < length:
                return
            self.messages.put(json.loads(body))

    def _read_stderr(self) -> None:
        self.stderr = self.process.stderr.read()

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        self._next_id += 1
        number = self._next_id
        self.send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while number not in self._responses:
            self._pump(deadline)
        response = self._responses.pop(number)
        if "error" in response:
            raise RuntimeError(response["error"])
        return response.get("result")

    def _pump(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from the server")
        message = self.messages.get(timeout=remaining)
        if "id" in message and "method" in message:  # a request from the server: answer it
            result = None
            if message["method"] == "workspace/configuration":
                result = [None for _ in message["params"]["items"]]
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        elif "id" in message:
            self._responses[message["id"]] = message
        else:
            self.notifications.append(message)
            self.log.append(message)

    def wait_for(self, method: str, predicate=lambda params: True, timeout: float = 60) -> dict:
        """The first notification of ``method`` (not seen by an earlier wait) whose params satisfy ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self.notifications):
                if message["method"] == method and predicate(message["params"]):
                    del self.notifications[: index + 1]
                    return message["params"]
            self._pump(deadline)

    # ---- session
    def initialize(self, root: Optional[Path] = None, options: Any = None, process_id: Optional[int] = None,
                   capabilities: Optional[dict] = None) -> dict:
        params = {
            "processId": os.getpid() if process_id is None else process_id,
            "rootUri": file_uri(root) if root else None,
            "capabilities": capabilities or {},
            "initializationOptions": options,
        }
        if root:
            params["workspaceFolders"] = [{"uri": file_uri(root), "name": root.name}]
        result = self.request("initialize", params)
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, version: int = 1) -> str:
        uri = file_uri(path)
        self.notify("textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}})
        return uri

    def diagnostics(self, uri: str, version: Optional[int] = None, timeout: float = 60) -> List[dict]:
        def matches(params):
            return params["uri"] == uri and (version is None or params.get("version") == version)

        return self.wait_for("textDocument/publishDiagnostics", matches, timeout)["diagnostics"]

    def close(self) -> int:
        """shutdown, exit; the exit code."""
        self.request("shutdown", None)
        self.notify("exit", None)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
