"""An overall deadline for one LLM call, on top of the HTTP client's between-reads timeout.

The read timeout bounds a stall, not a server that trickles one character just inside it; so the call
(request, retries, back-off, every streamed piece) runs on a worker thread and the caller waits for each
piece only until the deadline. A worker left behind stops at its next piece or read timeout.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_PIECE, _END, _FAILED = "piece", "end", "failed"


class DeadlineExceeded(Exception):
    """The call did not finish within its deadline (the client turns this into its timeout error)."""


def within(seconds: float, produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """The items of ``produce()``, computed on a worker thread, as long as ``seconds`` have not passed since the first.

    Exceptions of ``produce`` are raised here, in the caller's thread.

    Raises:
        DeadlineExceeded: the deadline passed before the last item.
    """
    deadline = time.monotonic() + seconds
    pieces: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            items = produce()
            for item in items:
                if stop.is_set():
                    getattr(items, "close", lambda: None)()
                    return
                pieces.put((_PIECE, item))
            pieces.put((_END, None))
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread as is
            pieces.put((_FAILED, exc))

    threading.Thread(target=work, name="llm-call", daemon=True).start()
    try:
        while True:
            try:
                kind, value = pieces.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise DeadlineExceeded from None
            if kind == _END:
                return
            if kind == _FAILED:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
