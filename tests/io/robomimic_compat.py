#!/usr/bin/python3
"""Loads a SimScale dataset the way robomimic's SequenceDataset does and checks it.

Usage: robomimic_compat.py FILE [--synthetic]

Mimics robomimic (d309eae) utils/file_utils.py and utils/dataset.py: SWMR open with
libver='latest', env_args JSON with an integer 'type', demos sorted by int(name[5:]),
@num_samples, 2-D actions, every obs/<k> and next_obs/<k>, and the mask filter keys decoded to
demo names. Then checks next_obs[t] == obs[t+1] within each episode and every view against the
store it is a view of, every demo attribute (seed, success, diverged, language, DR values)
against the index, and every column's per-episode CRC-32C (episodes/checksum/<column>) with an
independent implementation. With --synthetic (a file of tests/io/synthetic_episodes), also checks
actions and obs/ee_pos against the generator's formulas. Uses only h5py and numpy (Debian's python3-h5py). Exit code 0 on success;
each failed check prints a line.
"""
import json
import sys

import h5py
import numpy as np

failures = []


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of bytes, as common/io/checksum.h computes it."""
    crc = 0xFFFFFFFF
    table = CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def check_checksums(store, start_step, start_obs, lengths):
    """Each episode's rows of each column against episodes/checksum/<column>."""
    columns = []
    store["checksum"].visititems(
        lambda name, obj: columns.append(name) if isinstance(obj, h5py.Dataset) else None)
    check(len(columns) > 0, "episodes/checksum holds no checksums")
    for name in columns:
        sums = store[f"checksum/{name}"][()]
        data = store[name]
        observation = name.startswith("obs/")
        for i, T in enumerate(lengths):
            first = start_obs[i] if observation else start_step[i]
            rows = data[first:first + T + (1 if observation else 0)]
            got = crc32c(np.ascontiguousarray(rows).astype(rows.dtype.newbyteorder("<")).tobytes())
            check(got == int(sums[i]), f"episodes/{name} episode {i}: CRC-32C {got:08x}, "
                  f"stored {int(sums[i]):08x}")


def check(condition, message):
    if not condition:
        failures.append(message)


def check_observation(demo, store, ep, key, o, T):
    """obs/<key> and next_obs/<key> of a demo against rows [o, o + T + 1) of the store."""
    obs = demo[f"obs/{key}"][()]
    next_obs = demo[f"next_obs/{key}"][()]
    check(obs.shape[0] == T, f"{ep}/obs/{key} has {obs.shape[0]} rows")
    check(next_obs.shape == obs.shape, f"{ep}/next_obs/{key} shape {next_obs.shape}")
    check(np.array_equal(next_obs[:-1], obs[1:]), f"{ep}: next_obs/{key}[t] != obs/{key}[t+1]")
    block = store[f"obs/{key}"][o:o + T + 1]
    check(np.array_equal(obs, block[:-1]), f"{ep}/obs/{key} differs from the store")
    check(np.array_equal(next_obs, block[1:]), f"{ep}/next_obs/{key} differs from the store")
    if obs.dtype == np.uint8:
        check(obs.ndim == 4 and obs.shape[-1] == 3, f"{ep}/obs/{key} is not (T, H, W, 3) uint8")


def check_demo_attributes(demo, index, i, ep):
    """A demo's attributes against row i of the store's index."""
    for key in ("seed", "success", "diverged"):
        check(demo.attrs[key] == index[key][i], f"{ep}@{key}")
    language = index["language"][i].rstrip(b"\0").decode("utf-8")
    check(demo.attrs["language"] == language, f"{ep}@language")
    if "dr" in index:
        for name in index["dr"].keys():
            check(demo.attrs[f"dr_{name}"] == index[f"dr/{name}"][i], f"{ep}@dr_{name}")


def main(path, synthetic):
    # robomimic: h5py.File(hdf5_path, "r", swmr=hdf5_use_swmr, libver="latest")
    with h5py.File(path, "r", swmr=True, libver="latest") as f:
        # robomimic: FileUtils.get_env_metadata_from_dataset -> json.loads(f["data"].attrs["env_args"])
        env_meta = json.loads(f["data"].attrs["env_args"])
        check(isinstance(env_meta.get("type"), int), f"env_args type is not an int: {env_meta}")
        check(env_meta["type"] == 2, f"env_args type {env_meta['type']} != 2 (GYM_TYPE)")
        check(isinstance(env_meta.get("env_name"), str), "env_args has no env_name")
        check(isinstance(env_meta.get("env_kwargs"), dict), "env_args has no env_kwargs dict")

        # robomimic: demos = list(f["data"].keys()); sorted by int(elem[5:])
        demos = list(f["data"].keys())
        inds = np.argsort([int(elem[5:]) for elem in demos])
        demos = [demos[i] for i in inds]
        check(demos == [f"demo_{i}" for i in range(len(demos))], "demo names are not demo_0..N-1")

        store = f["episodes"]
        index = store["index"]
        start_step = index["start_step"][()]
        start_obs = index["start_obs"][()]
        lengths = index["length"][()]
        check(len(demos) == len(lengths), f"{len(demos)} demos for {len(lengths)} episodes")

        # robomimic: shapes from the first demo
        obs_keys = sorted(f[f"data/{demos[0]}/obs"].keys())
        check(obs_keys == sorted(f[f"data/{demos[0]}/next_obs"].keys()),
              "obs and next_obs keys differ")
        total = 0
        for i, ep in enumerate(demos):
            demo = f[f"data/{ep}"]
            # robomimic: SequenceDataset.load_demo_info
            num_samples = demo.attrs["num_samples"]
            total += num_samples
            check(num_samples == lengths[i], f"{ep} num_samples {num_samples} != {lengths[i]}")
            # robomimic: file_utils asserts len(actions.shape) == 2
            actions = demo["actions"][()]
            check(actions.ndim == 2, f"{ep}/actions is {actions.ndim}-D")
            check(actions.shape[0] == num_samples, f"{ep}/actions has {actions.shape[0]} rows")
            s, o, T = start_step[i], start_obs[i], lengths[i]
            for key in ("actions", "rewards", "dones", "states"):
                if key in demo:
                    check(np.array_equal(demo[key][()], store[key][s:s + T]),
                          f"{ep}/{key} differs from episodes/{key}[{s}:{s + T}]")
            if synthetic:
                t = np.arange(T)[:, None]
                j = np.arange(actions.shape[1])[None, :]
                check(np.array_equal(actions, (0.5 * (i * 1000 + t * 10 + j)).astype(np.float32)),
                      f"{ep}/actions differ from the synthetic episode {i}")
                ee_pos = demo["obs/ee_pos"][()]
                expected = (i + 0.25 * t + 0.125 * np.arange(3)[None, :]).astype(np.float32)
                check(np.array_equal(ee_pos, expected), f"{ep}/obs/ee_pos differs from episode {i}")
            dones = demo["dones"][()]
            check(dones[-1] == 1, f"{ep}/dones[-1] is {dones[-1]}")
            for key in obs_keys:
                check_observation(demo, store, ep, key, o, T)
            check_demo_attributes(demo, index, i, ep)
        check(f["data"].attrs["total"] == total, f"data@total {f['data'].attrs['total']} != {total}")
        check_checksums(store, start_step, start_obs, lengths)

        # robomimic: FileUtils.get_demos_for_filter_key
        names = set(demos)
        seen = []
        for key in ("train", "valid"):
            mask = [elem.decode("utf-8") for elem in np.array(f[f"mask/{key}"][:])]
            check(f[f"mask/{key}"].dtype.kind == "S", f"mask/{key} is not a byte-string array")
            missing = [m for m in mask if m not in names]
            check(not missing, f"mask/{key} names missing demos: {missing}")
            seen += mask
        check(sorted(seen) == sorted(demos), "masks do not cover every demo exactly once")

    for line in failures:
        print("FAIL:", line)
    print(f"{path}: {len(demos)} demos, {total} samples, {len(obs_keys)} obs keys, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--synthetic" in sys.argv[2:]))
