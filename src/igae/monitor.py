"""Progress of a training run: a periodic log line (step, losses, rate, ETA), a CSV file and TensorBoard.

The CSV file and the TensorBoard events survive a kill; on resume from step ``s`` the rows and events after
``s`` (written after the last checkpoint, so about to be recomputed) are dropped.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

log = logging.getLogger(__name__)


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class TrainingMonitor:
    """Log scalars every ``log_every`` steps to the logger, ``<log_dir>/metrics.csv`` and TensorBoard."""

    def __init__(self, log_dir: Path, total_steps: int, start_step: int = 0, log_every: int = 10, name: str = "train"):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.total_steps = total_steps
        self.start_step = start_step
        self.log_every = max(1, log_every)
        self.name = name
        self.csv_path = self.log_dir / "metrics.csv"
        if start_step == 0:
            self.csv_path.unlink(missing_ok=True)
        self._truncate_csv(start_step)
        if not self.csv_path.is_file():
            self._write_rows([])
        self.writer = SummaryWriter(str(self.log_dir / "tensorboard"), purge_step=start_step or None)
        self._started = time.perf_counter()

    def _read_rows(self) -> list[dict]:
        if not self.csv_path.is_file():
            return []
        with self.csv_path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def _write_rows(self, rows: list[dict]) -> None:
        fieldnames = list(dict.fromkeys(key for row in rows for key in row)) or ["step"]
        with self.csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)

    def _truncate_csv(self, start_step: int) -> None:
        """Keep only rows at or before ``start_step`` (the checkpoint a resumed run continues from)."""
        if self.csv_path.is_file():
            self._write_rows([row for row in self._read_rows() if int(row["step"]) <= start_step])

    def _append_csv(self, row: dict) -> None:
        with self.csv_path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if set(row) <= set(header):
            with self.csv_path.open("a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=header).writerow(row)
        else:  # a new column: rewrite the file with the union of columns
            self._write_rows([*self._read_rows(), row])

    def scalars(self, step: int, values: dict[str, float], force: bool = False) -> None:
        """Record ``values`` at ``step`` (1-based count of finished steps) if it is a logging step."""
        if not force and step % self.log_every and step != self.total_steps:
            return
        elapsed = time.perf_counter() - self._started
        done = step - self.start_step
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total_steps - step) / rate if rate > 0 else float("nan")
        for key, value in values.items():
            self.writer.add_scalar(f"{self.name}/{key}", value, step)
        self.writer.flush()
        self._append_csv({"step": step, "elapsed_s": round(elapsed, 2), **values})
        shown = " ".join(f"{key} {value:.4g}" for key, value in values.items())
        log.info(
            "step %d/%d (%.0f%%) %s | %.2f step/s, ETA %s",
            step,
            self.total_steps,
            100.0 * step / self.total_steps,
            shown,
            rate,
            format_duration(eta) if rate > 0 else "?",
        )

    def close(self) -> None:
        self.writer.close()
