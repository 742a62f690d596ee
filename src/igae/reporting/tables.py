"""Write summary tables as CSV (full precision), Markdown and LaTeX (mean ± std, best value in bold)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from igae.io_utils import write_bytes_atomic
from igae.reporting.aggregate import SPACE_LABELS, best_marks

DIGITS = {"psnr": 2, "ssim": 3, "lpips": 3}
HEADERS = {"psnr": "PSNR ↑", "ssim": "SSIM ↑", "lpips": "LPIPS ↓"}
LATEX_HEADERS = {"psnr": r"PSNR $\uparrow$", "ssim": r"SSIM $\uparrow$", "lpips": r"LPIPS $\downarrow$"}


def _cells(table: pd.DataFrame, metrics: Sequence[str], bold: str) -> list[list[str]]:
    """Rows of formatted cells: method, space, then ``mean ± std`` per metric, the best wrapped in ``bold``."""
    marks = best_marks(table, metrics)
    rows = []
    for (method, space), values in table.iterrows():
        cells = [method, SPACE_LABELS.get(space, space)]
        for metric in metrics:
            digits = DIGITS.get(metric, 3)
            text = f"{values[metric]:.{digits}f} ± {values[f'{metric}_std']:.{digits}f}"
            cells.append(bold.format(text) if marks.loc[(method, space), metric] else text)
        rows.append(cells)
    return rows


def markdown_table(table: pd.DataFrame, metrics: Sequence[str]) -> str:
    header = ["method", "space", *(HEADERS.get(metric, metric) for metric in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in _cells(table, metrics, "**{}**")]
    return "\n".join(lines) + "\n"


def latex_table(table: pd.DataFrame, metrics: Sequence[str], caption: str, label: str) -> str:
    """A ``table`` environment with one ``tabular`` (booktabs rules), ± as ``$\\pm$``."""
    rows = _cells(table, metrics, r"\textbf{{{}}}")
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{ll" + "c" * len(metrics) + "}",
        r"\toprule",
        " & ".join(["Method", "Space", *(LATEX_HEADERS.get(metric, metric) for metric in metrics)]) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_latex_escape(cell) for cell in row).replace("±", r"$\pm$") + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, metrics: Sequence[str], stem: Path, caption: str) -> list[Path]:
    """``stem``.csv, .md and .tex, each written atomically; returns the paths."""
    paths = [stem.with_suffix(suffix) for suffix in (".csv", ".md", ".tex")]
    write_bytes_atomic(paths[0], table.reset_index().to_csv(index=False).encode())
    write_bytes_atomic(paths[1], markdown_table(table, metrics).encode())
    write_bytes_atomic(paths[2], latex_table(table, metrics, caption, f"tab:{stem.name}").encode())
    return paths


def _latex_escape(text: str) -> str:
    for plain, escaped in (("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(plain, escaped)
    return text
