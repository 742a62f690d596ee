"""What a DVC stage leaves for DVC to certify: damaged outputs repaired, temporary leftovers removed.

DVC hashes whatever a stage's command leaves in its outputs and writes that into ``dvc.lock``. Our stages run
Snakemake, which judges outputs by existence and modification times only: a file deleted or edited inside a
directory output, or an edited file output, does not make it rerun anything, so without this module ``dvc repro``
would certify the damage as the new state. :func:`prepare_stage` therefore runs before Snakemake:

1. it removes the leftovers of interrupted atomic writes (``.<name>.tmp-*``, see :mod:`igae.io_utils`) under the
   stage's outputs (``.dvcignore`` keeps DVC from ever hashing them as well);
2. it compares every file of the stage's outputs with the *record* the previous run of the stage left (size and
   modification time of each file, written by :func:`record_stage` after Snakemake succeeded). A file that is
   missing or differs is damage, unless the Snakemake job that makes it has run since the record (a legitimate
   rerun, e.g. ``snakemake`` run by hand between two ``dvc repro``);
3. a damaged file is restored from DVC's content-addressed cache when ``dvc.lock`` names its content and the cache
   holds it (its modification time is set back, so nothing downstream reruns); otherwise the Snakemake job output
   that contains it is deleted, so Snakemake recomputes it (and what depends on it).

Without a record (the first run, a fresh clone after ``dvc pull``) there is nothing to compare with and only the
leftovers are removed.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from igae.io_utils import write_json_atomic

#: The marker of a temporary name written by :mod:`igae.io_utils` (``.<final name>.tmp-<random>``).
TEMP_MARKER = ".tmp-"
#: Where each stage's record lives, relative to the repository.
RECORD_DIR = Path(".igae/outputs")


@dataclass(frozen=True)
class Repair:
    """What :func:`prepare_stage` did, for the log."""

    removed_leftovers: tuple[str, ...]
    restored: tuple[str, ...]  # files copied back from DVC's cache
    recomputed: tuple[str, ...]  # Snakemake job outputs deleted so that Snakemake makes them again
    unrepairable: tuple[str, ...]  # damaged files outside every job output and absent from the cache

    def lines(self) -> list[str]:
        labelled = (
            ("removed the leftover of an interrupted write", self.removed_leftovers),
            ("restored from DVC's cache", self.restored),
            ("damaged, deleted so that Snakemake makes it again", self.recomputed),
            ("damaged, not in DVC's cache and made by no job: left as it is", self.unrepairable),
        )
        return [f"{label}: {path}" for label, paths in labelled for path in paths]


def is_leftover(path: Path) -> bool:
    return path.name.startswith(".") and TEMP_MARKER in path.name


def _walk_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_leftover(Path(d)))
        for name in sorted(files):
            if not is_leftover(Path(name)):
                yield Path(folder) / name


def remove_leftovers(repo: Path, outs: Sequence[str]) -> list[str]:
    """Delete every ``.<name>.tmp-*`` file or folder under ``outs``; returns their paths."""
    removed = []
    for out in outs:
        root = repo / out
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                path = Path(folder) / name
                if is_leftover(path):
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                    removed.append(str(path.relative_to(repo)))
            dirs[:] = [d for d in dirs if not is_leftover(Path(d))]
    return removed


def _record_path(repo: Path, stage: str) -> Path:
    return repo / RECORD_DIR / f"{stage}.json"


def record_stage(repo: Path, stage: str, outs: Sequence[str]) -> None:
    """Write the record of the stage's outputs as they are now (after a successful Snakemake run)."""
    files = {}
    for out in outs:
        for path in _walk_files(repo / out):
            status = path.stat()
            files[str(path.relative_to(repo))] = [status.st_size, status.st_mtime_ns]
    write_json_atomic(_record_path(repo, stage), {"time": time.time(), "files": files})


def job_end_times(repo: Path) -> dict[str, float]:
    """Output path -> when the Snakemake job that made it last ended.

    Read from Snakemake's metadata (``.snakemake/metadata``: one JSON record per output, named by the output's
    path in URL-safe base64, split into folders of 255 characters when longer).
    """
    metadata = repo / ".snakemake" / "metadata"
    times: dict[str, float] = {}
    if not metadata.is_dir():
        return times
    for path in metadata.rglob("*"):
        if not path.is_file():
            continue
        encoded = "".join(path.relative_to(metadata).parts)
        try:
            output = base64.urlsafe_b64decode(encoded).decode()
            record = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError, OSError):
            continue  # not a record (or one being written): nothing known about that output
        if isinstance(record, dict) and isinstance(record.get("endtime"), (int, float)):
            times[output] = float(record["endtime"])
    return times


def _job_output(path: str, outputs: set[str]) -> str | None:
    """The Snakemake job output that is ``path`` or holds it (the nearest), if any."""
    candidate = PurePosixPath(path)
    for holder in (candidate, *candidate.parents):
        if str(holder) in outputs:
            return str(holder)
    return None


def _cache_dir(repo: Path) -> Path:
    cache = repo / ".dvc" / "cache"
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser()
        try:
            parser.read(repo / ".dvc" / name)
        except configparser.Error:
            continue
        if parser.has_option("cache", "dir"):
            cache = (repo / ".dvc" / parser.get("cache", "dir")).resolve()
    return cache


def _cache_object(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def recorded_contents(repo: Path, stage: str) -> dict[str, Path]:
    """File path -> the object in DVC's cache holding the content that ``dvc.lock`` records for it."""
    lock_path = repo / "dvc.lock"
    if not lock_path.is_file():
        return {}
    lock = yaml.safe_load(lock_path.read_text()) or {}
    entry = (lock.get("stages") or {}).get(stage) or {}
    cache = _cache_dir(repo)
    contents: dict[str, Path] = {}
    for out in [*(entry.get("outs") or []), *(entry.get("metrics") or [])]:
        md5 = str(out.get("md5", ""))
        if not md5:
            continue
        if not md5.endswith(".dir"):
            contents[out["path"]] = _cache_object(cache, md5)
            continue
        listing = _cache_object(cache, md5)
        try:
            members = json.loads(listing.read_text())
        except (OSError, ValueError):
            continue  # the listing is not in this cache
        for member in members:
            contents[f"{out['path']}/{member['relpath']}"] = _cache_object(cache, member["md5"])
    return contents


def _read_record(repo: Path, stage: str) -> dict | None:
    path = _record_path(repo, stage)
    return json.loads(path.read_text()) if path.is_file() else None


def find_damage(repo: Path, stage: str) -> list[str]:
    """Files of the stage's record that are missing or changed, and that no Snakemake job has remade since."""
    record = _read_record(repo, stage)
    return [] if record is None else _damaged(repo, record, job_end_times(repo))


def _damaged(repo: Path, record: dict, end_times: dict[str, float]) -> list[str]:
    recorded_at = float(record["time"])
    outputs = set(end_times)
    any_job_since = any(end > recorded_at for end in end_times.values())
    damaged = []
    for path, (size, mtime_ns) in record["files"].items():
        holder = _job_output(path, outputs)
        remade = end_times[holder] > recorded_at if holder else any_job_since
        if remade:
            continue
        try:
            status = (repo / path).stat()
        except FileNotFoundError:
            damaged.append(path)
            continue
        if (status.st_size, status.st_mtime_ns) != (size, mtime_ns):
            damaged.append(path)
    return damaged


def _restore(repo: Path, path: str, source: Path, mtime_ns: int) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}{TEMP_MARKER}restore"
    shutil.copyfile(source, temporary)
    os.utime(temporary, ns=(mtime_ns, mtime_ns))
    os.replace(temporary, target)


def repair_damage(repo: Path, stage: str) -> tuple[list[str], list[str], list[str]]:
    """Restore or schedule for recomputation every damaged file; returns (restored, recomputed, unrepairable)."""
    record = _read_record(repo, stage)
    if record is None:
        return [], [], []
    end_times = job_end_times(repo)  # one pass over Snakemake's metadata, for the damage and its holders
    damaged = _damaged(repo, record, end_times)
    if not damaged:
        return [], [], []
    contents = recorded_contents(repo, stage)
    outputs = set(end_times)
    restored, recomputed, unrepairable = [], [], []
    for path in damaged:
        source = contents.get(path)
        if source is not None and source.is_file():
            _restore(repo, path, source, record["files"][path][1])
            restored.append(path)
            continue
        holder = _job_output(path, outputs)
        if holder is None:
            unrepairable.append(path)
        elif holder not in recomputed:
            target = repo / holder
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            recomputed.append(holder)
    return restored, recomputed, unrepairable


def snakemake_locked(repo: Path) -> bool:
    """Whether another Snakemake holds this working directory (its temporary files must then be left alone)."""
    locks = repo / ".snakemake" / "locks"
    return locks.is_dir() and any(locks.iterdir())


def prepare_stage(repo: Path, stage: str, outs: Sequence[str]) -> Repair:
    """Make the stage's outputs fit for Snakemake to judge (see the module docstring)."""
    if snakemake_locked(repo):
        return Repair((), (), (), ())  # Snakemake itself will refuse to run and say why
    leftovers = remove_leftovers(repo, outs)
    restored, recomputed, unrepairable = repair_damage(repo, stage)
    return Repair(tuple(leftovers), tuple(restored), tuple(recomputed), tuple(unrepairable))
