"""Fixtures of the benchmark's tests (torch needed where they are used)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def detect_flips(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ``flip`` argument of every ``train.detect`` call, in order (the detections
    themselves unchanged)."""
    from synthgen.benchmark import train

    flips: list[Any] = []
    detect = train.detect

    def spy(net: Any, data: Any, **kw: Any) -> Any:
        flips.append(kw.get("flip"))
        return detect(net, data, **kw)
    monkeypatch.setattr(train, "detect", spy)
    return flips
