"""Reading a SimScale dataset store (common/io/README.md) for figures: the committed episodes
only, low-dimensional columns in blocks with progress, a few image frames."""
import json
import re

from simscale import console
from simscale.plot import figure, inputs

BLOCK_ROWS = 65536
MAX_ROWS = 2_000_000  # larger columns are drawn from an even sample of their rows
AXES3 = ("x", "y", "z")


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise figure.MissingDependency(
            f"h5py is not available ({e}); on Debian: apt-get install python3-h5py") from e
    return h5py


def dimension_names(describe):
    """"ee_delta[3] gripper[1]" -> ["ee_delta x", "ee_delta y", "ee_delta z", "gripper"]."""
    names = []
    for name, size in re.findall(r"(\w+)\[(\d+)\]", describe or ""):
        size = int(size)
        if size == 1:
            names.append(name)
        elif size == 3 and not name.endswith("quat"):
            names.extend(f"{name} {axis}" for axis in AXES3)
        else:
            names.extend(f"{name}[{i}]" for i in range(size))
    return names


class Store:
    """An open store file: index arrays, layout, env attributes."""

    def __init__(self, path):
        path = inputs.require_hdf5(path)
        h5py = _h5py()
        try:
            self.file = h5py.File(path, "r")
        except OSError as e:
            raise inputs.InputError(f"'{path}' cannot be read as HDF5: {e}") from e
        if "episodes/index" not in self.file:
            raise inputs.InputError(f"'{path}' is not a SimScale dataset (no episodes/ store; "
                                    "a robomimic-only file?)")
        self.path = path
        self.store = self.file["episodes"]
        index = self.store["index"]
        self.episodes = int(index.attrs["committed_episodes"])
        self.steps = int(index.attrs["committed_steps"])
        self.obs_rows = int(index.attrs["committed_obs_rows"])
        self.layout = json.loads(self.store.attrs["layout"])
        self.env_name = _text(self.store.attrs.get("env_name", "?"))
        self.env_kwargs = json.loads(_text(self.store.attrs.get("env_kwargs", "{}")))
        self.complete = bool(self.store.attrs.get("complete", 0))
        self.index = {key: index[key][:self.episodes] for key in
                      ("length", "return", "success", "diverged", "start_obs")}
        self.dr = {name: index["dr"][name][:self.episodes] for name in
                   self.layout.get("dr_value_names", []) if name in index.get("dr", {})}

    def lowdim_obs_keys(self):
        return [c["name"] for c in self.layout["obs_columns"]
                if c["dtype"].startswith("float") and len(c["row_shape"]) == 1]

    def image_keys(self):
        return [c["name"] for c in self.layout["obs_columns"]
                if c["dtype"] == "uint8" and len(c["row_shape"]) == 3]

    def read_columns(self, names, rows, progress_label):
        """{name: array of the first `rows` rows}, read in blocks (every k-th row of a column
        longer than MAX_ROWS), with progress on long reads."""
        step = max(1, -(-rows // MAX_ROWS))
        progress = console.Progress(rows * len(names), label=progress_label, unit="rows",
                                    quiet_below=2.0)
        out = {}
        for i, name in enumerate(names):
            out[name] = self._read_column(name, rows, step, progress, i * rows)
        progress.finish()
        return out, step

    def _read_column(self, name, rows, step, progress, done_before):
        import numpy as np
        dataset = self.store[name]
        blocks = []
        for first in range(0, rows, BLOCK_ROWS):
            block = dataset[first:min(rows, first + BLOCK_ROWS)]
            blocks.append(block[(-first) % step::step] if step > 1 else block)
            progress.update(done_before + min(rows, first + BLOCK_ROWS), name)
        data = np.concatenate(blocks) if blocks else np.zeros((0,) + dataset.shape[1:])
        return data.reshape(len(data), -1).astype(np.float64)

    def frame(self, key, obs_row):
        return self.store[key][obs_row]


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)
