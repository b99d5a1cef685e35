"""Errors raised by the document index, with messages a user can act on."""

from __future__ import annotations

from pathlib import Path

REBUILD_HINT = "rebuild it with `cxassist index build --rebuild`"


class CxIndexError(Exception):
    """Base class for every error raised by the `index` package."""


class IndexNotBuiltError(CxIndexError):
    """No index exists at the requested location."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        super().__init__(f"no index at {self.location}: run `cxassist index build`")


class IndexCorruptError(CxIndexError):
    """An index exists but cannot be read; the only cure is a fresh build."""

    def __init__(self, location: str | Path, problem: str) -> None:
        self.location = str(location)
        self.problem = problem
        super().__init__(f"index at {self.location} is unusable ({problem}): {REBUILD_HINT}")


class CorpusError(CxIndexError):
    """A source document cannot be loaded; names the file and what is wrong with it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class IndexBusyError(CxIndexError):
    """Another build holds the lock on the same index directory."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        super().__init__(
            f"another `cxassist index build` is running on {self.location}; wait for it to finish"
        )
