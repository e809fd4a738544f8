"""What every section of the report is made of: summary rows, a details part, a chart; and their helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from tabulate import tabulate

Figures = Mapping[str, Any]


class Compared(NamedTuple):
    label: str  # how the report names it
    colour: str  # its colour in the charts


# The two handlers every section compares, by their keys in results.json.
COMPARED = {"product": Compared("function", "tab:blue"), "peer": Compared("peer", "tab:red")}


@dataclass
class Row:
    """One figure of the summary table (and of results.json's `summary`)."""

    section: str = field(default="", kw_only=True)  # the Section's name, which the report fills in
    figure: str
    value: str
    target: str = ""
    verdict: str = ""  # "pass", "miss" or "" (a figure without a target)
    peer: str = "n/a"
    ratio: str = "n/a"  # function / peer
    note: str = ""
    miss_by: str = ""


@dataclass(frozen=True)
class Section:
    """A section of results.json and of the report; each function gets the section's own figures."""

    name: str  # its key in results.json, and its name for `--only`
    title: str
    rows: Callable[[Figures], list[Row]]
    details: Callable[[Figures], list[str]]
    # Draws the section's chart into the folder (nothing when its figures have none to draw).
    chart: Callable[[Figures, Path], None] | None = None


def ratio(product: float | None, peer: float | None, digits: int = 2) -> str:
    """The function's figure over the peer's, as the `x peer` column shows it."""
    if product is None or peer is None or peer == 0:
        return "n/a"
    value = product / peer
    if value >= 100:
        return f"{value:.0f} x"
    return f"{value:.{digits}g} x" if value < 1 else f"{value:.{digits + 1}g} x"


def verdict(ok: bool) -> str:
    return "pass" if ok else "miss"


def markdown_table(header: str, rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table, as lines. `header` names the columns as a markdown header line does
    ("a | b | c"); cells are shown as given (no number is re-formatted)."""
    columns = [name.strip() for name in header.split("|")]
    return str(tabulate(list(rows), headers=columns, tablefmt="github", disable_numparse=True)).splitlines()


@contextmanager
def chart_file(folder: Path, name: str, **subplots: Any) -> Iterator[tuple[Any, Any]]:
    """A figure and its axes (`pyplot.subplots(**subplots)`), saved as folder/name when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(**subplots)
    try:
        yield figure, axes
        figure.tight_layout()
        figure.savefig(folder / name, dpi=110)
    finally:
        plt.close(figure)
