"""RESULTS.md tables generated from the sweep CSVs. A generated block sits between

    <!-- sweep-table: results/datagen.csv -->
    ...
    <!-- end sweep-table -->

(the path relative to RESULTS.md); everything outside the blocks is hand-written and kept."""
import csv
import pathlib
import re

from sweeplib import kinds

BLOCK = re.compile(r"(<!-- sweep-table: (\S+) -->\n)(.*?)(<!-- end sweep-table -->)", re.S)


def cell(value, fmt):
    if value in (None, ""):
        return ""
    try:
        return fmt.format(float(value)) if fmt != "{}" else str(value)
    except ValueError:
        return str(value)


def machine_line(rows, csv_name):
    first = rows[0]
    loads = [float(r["load_avg"]) for r in rows if r.get("load_avg")]
    load = f", load average {min(loads):.1f}-{max(loads):.1f}" if loads else ""
    return (f"_{first['sweep']} sweep, {first.get('started', '?')[:10]}: "
            f"{first.get('cpu_model', '?')}, {first.get('cores', '?')} cores{load}; "
            f"Open MPI {first.get('openmpi', '?')}, HDF5 {first.get('hdf5', '?')}, "
            f"MuJoCo {first.get('mujoco', '?')}, LibTorch {first.get('libtorch', '?')}; "
            f"source {first.get('git', '?')}; median of {first.get('repeats', '?')} run(s) per "
            f"row; data: `{csv_name}`._")


def render(csv_path):
    with open(csv_path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"sweep tables: '{csv_path}' has no rows")
    columns = kinds.KINDS[rows[0]["sweep"]].table
    lines = ["| " + " | ".join(h for h, _, _ in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c), fmt) for _, c, fmt in columns) + " |"
              for r in rows]
    return "\n".join(lines) + "\n\n" + machine_line(rows, pathlib.Path(csv_path).name) + "\n"


def update(results_md, check=False):
    """Regenerates every block; returns the CSVs whose block changed (nothing written when
    check)."""
    results_md = pathlib.Path(results_md)
    text = results_md.read_text(encoding="utf-8")
    changed = []

    def replace(match):
        table = render(results_md.parent / match.group(2))
        if table != match.group(3):
            changed.append(match.group(2))
        return match.group(1) + table + match.group(4)

    new_text = BLOCK.sub(replace, text)
    if changed and not check:
        results_md.write_text(new_text, encoding="utf-8")
    return changed, len(BLOCK.findall(text))
