"""The cold start section: import and initialisation against the minimal Powertools handler; its chart."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sections.section import Figures, Row, Section, chart_file, markdown_table, ratio, verdict

TARGET_COLD_START_RATIO = 1.3
CHART = "cold_start.png"


def rows(cold: Figures) -> list[Row]:
    targets = cold["targets"]
    product = targets["product"]["import_ms_median"]
    minimal = targets["minimal"]["import_ms_median"]
    peer_ms = targets["peer"]["import_ms_median"]
    times = product / minimal
    return [
        Row(
            "cold",
            f"cold start: import + init (ms; x the minimal Powertools handler, {minimal:.0f} ms)",
            f"{product:.0f} ({times:.2f} x)",
            f"<= {TARGET_COLD_START_RATIO:g} x minimal",
            verdict(times <= TARGET_COLD_START_RATIO),
            f"{peer_ms:.0f}",
            ratio(product, peer_ms),
            note="with its IVS client made, as the peer makes it: "
            f"{targets['product+client']['import_ms_median']:.0f} ms",
            miss_by=f"{times - TARGET_COLD_START_RATIO:.2f} x ({product - TARGET_COLD_START_RATIO * minimal:.0f} ms)"
            if times > TARGET_COLD_START_RATIO
            else "",
        )
    ]


def details(cold: Figures) -> list[str]:
    body = [
        [
            name,
            f"{figures['import_ms_median']:.0f}",
            f"{figures['import_ms_min']:.0f}-{figures['import_ms_max']:.0f}",
            f"{figures['process_ms_median']:.0f}",
        ]
        for name, figures in cold["targets"].items()
    ]
    lines = [
        f"Import and initialisation of the handler module in a fresh interpreter, timed inside it; "
        f"{cold['runs']} interleaved rounds after one discarded round (bytecode caches written), medians.",
        "",
        *markdown_table("module | median ms | min-max | whole process ms", body),
    ]
    profile = cold.get("import_profile_ms", {})
    if profile:
        product, minimal = profile.get("product", {}), profile.get("minimal", {})
        names = list(dict.fromkeys([*product, *minimal]))
        lines += [
            "",
            "Own import time by top-level package (`-X importtime`, medians, ms):",
            "",
            *markdown_table(
                "package | function | minimal",
                [[name, _ms(product.get(name)), _ms(minimal.get(name))] for name in names],
            ),
        ]
    return [*lines, "", f"![cold start]({CHART})"]


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def chart(cold: Figures, folder: Path) -> str:
    """Median import + init per module, the function's in blue, beside the target."""
    names = list(cold["targets"])
    values = [cold["targets"][name]["import_ms_median"] for name in names]
    minimal = cold["targets"]["minimal"]["import_ms_median"]
    with chart_file(folder, CHART, figsize=(6.5, 3.6)) as (_, axis):
        axis.barh(names, values, color=["tab:blue" if name.startswith("product") else "tab:gray" for name in names])
        axis.axvline(minimal * TARGET_COLD_START_RATIO, color="k", linestyle="--", linewidth=1, label="target")
        axis.set_xlabel("import + init, median ms")
        axis.invert_yaxis()
        axis.legend()
    return CHART


SECTION = Section("cold", "Cold start", rows, details, chart)
