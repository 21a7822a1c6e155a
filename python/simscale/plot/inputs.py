"""Reading the tools' output files, with errors that say what was expected."""
import csv
import json
import math
import pathlib


class InputError(Exception):
    """Bad input given to simscale-plot: missing file, wrong kind of file, nothing to draw."""


def existing(path, what):
    """The path, which must exist; `what` names the expected input in the message."""
    path = pathlib.Path(path)
    if not path.exists():
        raise InputError(f"'{path}' does not exist (expected {what})")
    return path


def directory(path, what):
    path = existing(path, what)
    if not path.is_dir():
        raise InputError(f"'{path}' is a file, not a directory (expected {what})")
    return path


def _number(value):
    """JSON null and the empty CSV cell are missing values (NaN)."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_jsonl(path):
    """The objects of a JSON-lines file; a partial last line (a run in progress) is skipped."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                if number == 1:
                    raise InputError(f"'{path}' is not a JSON-lines file: {e}") from e
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def columns(rows, keys):
    """{key: [float per row]} for the keys; missing cells become NaN."""
    return {key: [_number(row.get(key)) for row in rows] for key in keys}


def read_json(path, what):
    try:
        with open(existing(path, what), encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"'{path}' is not a JSON file ({what}): {e}") from e


def require_hdf5(path):
    path = existing(path, "an HDF5 dataset written by datagen_mpi")
    if path.is_dir():
        raise InputError(f"'{path}' is a directory, not an HDF5 dataset file")
    with open(path, "rb") as f:
        signature = f.read(8)
    if signature != b"\x89HDF\r\n\x1a\n":
        raise InputError(f"'{path}' is not an HDF5 file (expected a dataset written by "
                         "datagen_mpi, e.g. data/reach.h5)")
    return path


def run_name(path, all_paths):
    """A short label for a run directory: its name, with its parent's when names repeat."""
    path = pathlib.Path(path).resolve()
    names = [pathlib.Path(p).resolve().name for p in all_paths]
    if names.count(path.name) > 1:
        return f"{path.parent.name}/{path.name}"
    return path.name
