"""Event tap: with ``MASH_EVENT_TAP=<dir>`` every published message is also appended to a file.

The contract tests use it to check every event the services really emitted during the test
suite against its schema. Off unless the variable is set; never enabled in production.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from mashcore.messages import Message

TAP_ENV = "MASH_EVENT_TAP"
_lock = threading.Lock()


def record_published(messages: Sequence[Message]) -> None:
    """Append the messages to this process's tap file, if tapping is on."""
    folder = os.environ.get(TAP_ENV)
    if not folder:
        return
    lines = [
        json.dumps({
            "topic": m.topic,
            "key": base64.b64encode(m.key or b"").decode(),
            "value": base64.b64encode(m.value).decode(),
            "headers": [[k, base64.b64encode(v).decode()] for k, v in m.headers],
        })
        for m in messages
    ]
    path = Path(folder) / f"published-{os.getpid()}.jsonl"
    with _lock, path.open("a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))


def read_published(folder: Path) -> Iterator[Message]:
    """Every message recorded in a tap folder, by any process."""
    for path in sorted(folder.glob("published-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue  # a process killed mid-write leaves at most a partial last line
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            yield Message(
                topic=raw["topic"],
                key=base64.b64decode(raw["key"]),
                value=base64.b64decode(raw["value"]),
                headers=tuple((k, base64.b64decode(v)) for k, v in raw["headers"]),
            )
