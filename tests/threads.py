"""Which functions run on the event loop's thread: a profiler of this thread alone
(`sys.setprofile` is per thread) sees every Python call made on it, none made in a worker
thread."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def calls_on_this_thread(*functions: Callable[..., Any]) -> Iterator[list[str]]:
    """The names of `functions` called on this thread while the block runs, in order."""
    codes = {function.__code__ for function in functions}
    seen: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code in codes:
            seen.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)
