"""``with`` for the things that hold a database, a keyring or a connection pool open."""

from __future__ import annotations

from typing import Self


class Closing:
    """A resource closed by ``close()``; ``with`` calls it on the way out, error or not."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
