"""Problems found in a config file, each with the key path and line it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file.

    ``path`` is the key path (``systems[1].models[0].features[2].type``), empty when the
    problem is not about one key (a YAML syntax error); ``line`` is 1-based, 0 when unknown.
    """

    path: str
    line: int
    message: str

    def format(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be applied. Raised before anything is written."""

    def __init__(self, filename: str, problems: list[Problem]):
        self.filename = filename
        self.problems = sorted(problems, key=lambda p: (p.line, p.path))
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        header = f"{self.filename}: {count} problem{'s' if count != 1 else ''}, nothing was applied:"
        return "\n".join([header, *(f"  {p.format(self.filename)}" for p in self.problems)])
