"""Transport-level message: what a bus carries, independent of Kafka or the embedded log."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Message:
    """One record on a topic: key, value and headers, plus where it was read from."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)
    partition: int | None = None
    offset: int | None = None

    def header(self, name: str) -> str | None:
        """The first header of that name, decoded as UTF-8, or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return None
