"""What each sweep runs and measures. A kind names its grid axes (with defaults), builds the
command of one run at a grid point, and reads that run's metrics from what the tool printed or
wrote. Throughput is the headline metric: the parallel efficiency is computed from it."""
import json
import pathlib
import re

MPI_TOOL_ENV = {"OMP_NUM_THREADS": "1"}


def summary_line(stdout, tag):
    """{key: float} of a `TAG key=value ...` line (DATAGEN_SUMMARY, IO_BENCH_SUMMARY)."""
    for line in stdout.splitlines():
        if line.startswith(tag + " "):
            return {k: float(v) for k, v in re.findall(r"(\w+)=([-+0-9.eE]+)", line)}
    raise ValueError(f"no {tag} line in the tool's output")


def camera_args(cameras, image_size):
    if cameras == "none":
        return []
    return ["--cameras", cameras.replace("+", ","), "--set", f"datagen.image_size={image_size}"]


class Kind:
    """The interface of a sweep kind; see the subclasses."""
    name = ""
    tool = ""
    unit = ""
    axes = {}  # axis name -> default values (strings)
    params = {}  # fixed parameter -> (default, help)
    table = ()  # (header, CSV column, format) of the RESULTS.md table
    run_options = True  # the tool takes the common run options (--log.level, --plots)

    def command(self, point, params, scratch):
        """(argv after the launcher, extra environment) of one run."""
        raise NotImplementedError

    def metrics(self, stdout, scratch, point, params):
        """{metric: value} of a finished run, with "throughput" among them."""
        raise NotImplementedError


class Datagen(Kind):
    name, tool, unit = "datagen", "datagen_mpi", "episodes/s"
    axes = {"ranks": ["1", "2"], "cameras": ["none"], "image_size": ["128"],
            "scaling": ["strong"], "batch": ["4"]}
    params = {"env": ("pick_place", "environment"),
              "episodes": ("32", "episodes (strong: in all; weak: per rank)")}
    table = (("images", "cameras", "{}"), ("scaling", "scaling", "{}"), ("ranks", "ranks", "{}"),
             ("episodes", "episodes", "{:.0f}"), ("episodes/s", "throughput", "{:.2f}"),
             ("env steps/s", "env_steps_per_s", "{:.0f}"), ("HDF5 share", "hdf5_share", "{:.1f} %"),
             ("HDF5 ms per round", "hdf5_ms_per_round", "{:.1f}"),
             ("parallel efficiency", "efficiency", "{:.0f} %"), ("load", "load_avg", "{:.1f}"))

    def episodes(self, point, params):
        n = int(params["episodes"])
        return n * int(point["ranks"]) if point["scaling"] == "weak" else n

    def command(self, point, params, scratch):
        argv = ["--env", params["env"], "--episodes", str(self.episodes(point, params)),
                "--set", f"datagen.episodes_per_round={point['batch']}",
                *camera_args(point["cameras"], point["image_size"]),
                "--output", str(scratch / "dataset.h5"), "--overwrite"]
        return argv, dict(MPI_TOOL_ENV)

    def metrics(self, stdout, scratch, point, params):
        s = summary_line(stdout, "DATAGEN_SUMMARY")
        rounds = -(-s["episodes"] // (s["ranks"] * int(point["batch"])))
        return {"throughput": s["episodes"] / s["wall_s"], "episodes": s["episodes"],
                "env_steps_per_s": s["steps"] / s["wall_s"],
                "hdf5_share": 100 * s["hdf5_s"] / s["wall_s"],
                "hdf5_ms_per_round": 1000 * s["hdf5_max_s"] / rounds,
                "render_share": 100 * s["render_s"] / s["wall_s"], "wall_s": s["wall_s"]}


class Render(Kind):
    """Rendering inside datagen (the recorder's cameras): frames per second over all ranks."""
    name, tool, unit = "render", "datagen_mpi", "frames/s"
    axes = {"ranks": ["1"], "cameras": ["agentview"], "image_size": ["64", "128"],
            "threads": ["0"]}
    params = {"env": ("pick_place", "environment"), "episodes": ("8", "episodes in all")}
    table = (("cameras", "cameras", "{}"), ("image", "image_size", "{}"), ("ranks", "ranks", "{}"),
             ("llvmpipe threads", "threads", "{}"), ("frames/s", "throughput", "{:.0f}"),
             ("ms per frame (one rank)", "ms_per_frame", "{:.2f}"),
             ("render share of wall", "render_share", "{:.0f} %"), ("load", "load_avg", "{:.1f}"))

    def command(self, point, params, scratch):
        argv = ["--env", params["env"], "--episodes", params["episodes"],
                *camera_args(point["cameras"], point["image_size"]),
                "--output", str(scratch / "dataset.h5"), "--overwrite"]
        return argv, dict(MPI_TOOL_ENV, LP_NUM_THREADS=point["threads"])

    def metrics(self, stdout, scratch, point, params):
        s = summary_line(stdout, "DATAGEN_SUMMARY")
        frames = (s["steps"] + s["episodes"]) * len(point["cameras"].split("+"))
        return {"throughput": frames / s["render_s"],
                "ms_per_frame": 1000 * s["render_s"] * s["ranks"] / frames,
                "render_share": 100 * s["render_s"] / s["wall_s"], "wall_s": s["wall_s"]}


class Train(Kind):
    """train_ddp at the same global batch at every rank count (each rank: batch / ranks)."""
    name, tool, unit = "train", "train_ddp", "samples/s"
    axes = {"ranks": ["1", "2"], "batch": ["256"], "threads": ["1"]}
    params = {"model": ("bc", "registered model name"), "steps": ("200", "optimizer steps"),
              "dataset": ("", "dataset file (default: one generated for the sweep)")}
    table = (("model", "model", "{}"), ("ranks", "ranks", "{}"), ("batch", "batch", "{}"),
             ("threads/rank", "threads", "{}"), ("samples/s", "throughput", "{:,.0f}"),
             ("speed-up", "speedup", "{:.2f}x"), ("efficiency", "efficiency", "{:.0f} %"),
             ("data wait", "data_wait_share", "{:.1f} %"),
             ("all-reduce", "allreduce_share", "{:.1f} %"), ("load", "load_avg", "{:.1f}"))

    def command(self, point, params, scratch):
        argv = ["--dataset", params["dataset"], "--model", params["model"],
                "--steps", params["steps"], "--output", str(scratch / "run"), "--overwrite",
                "--set", f"train.batch_size={point['batch']}", "--set", "train.warmup_steps=0",
                "--set", "train.log_every=1000000", "--set", "train.eval_batches=1",
                "--set", f"train.threads={point['threads']}"]
        return argv, {"OMP_NUM_THREADS": point["threads"]}

    def metrics(self, stdout, scratch, point, params):
        with open(scratch / "run" / "summary.json", encoding="utf-8") as f:
            s = json.load(f)
        return {"throughput": s["samples_per_second"], "model": params["model"],
                "data_wait_share": 100 * s["data_wait_share"],
                "allreduce_share": 100 * s["allreduce_share"]}


class Ppo(Kind):
    """ppo_vec: env steps per second (collection and updates) at the end of a short run."""
    name, tool, unit = "ppo", "ppo_vec", "env steps/s"
    axes = {"ranks": ["1", "2"], "envs": ["8"], "threads": ["1"]}
    params = {"config": ("configs/ppo_reach_debug.yaml", "base ppo_vec config"),
              "steps": ("16384", "env steps over all ranks")}
    table = (("ranks", "ranks", "{}"), ("envs/rank", "envs", "{}"),
             ("threads/rank", "threads", "{}"),
             ("env steps/s", "throughput", "{:,.0f}"), ("efficiency", "efficiency", "{:.0f} %"),
             ("load", "load_avg", "{:.1f}"))

    def command(self, point, params, scratch):
        argv = ["--config", params["config"], "--set", f"ppo.num_envs={point['envs']}",
                "--set", f"ppo.threads={point['threads']}",
                "--set", f"ppo.total_steps={params['steps']}",
                "--output", str(scratch / "run"), "--overwrite"]
        return argv, dict(MPI_TOOL_ENV)

    def metrics(self, stdout, scratch, point, params):
        lines = (scratch / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        last = json.loads(lines[-1])
        return {"throughput": last["sps"], "updates": last["update"]}


class Io(Kind):
    """io_bench: the episode store's collective append round, without simulation."""
    name, tool, unit = "io", "io_bench", "MB/s"
    run_options = False  # a benchmark program: log options only
    axes = {"ranks": ["1", "2"], "batch": ["1", "8"], "cameras": ["none"]}
    params = {"length": ("200", "steps per episode"), "rounds": ("20", "timed rounds")}
    table = (("ranks", "ranks", "{}"), ("images", "cameras", "{}"),
             ("episodes/rank/round", "batch", "{}"), ("MB/s", "throughput", "{:.0f}"),
             ("median ms/round", "median_ms", "{:.1f}"), ("ms/episode", "ms_per_episode", "{:.2f}"),
             ("efficiency", "efficiency", "{:.0f} %"), ("load", "load_avg", "{:.1f}"))

    def command(self, point, params, scratch):
        data = "lowdim" if point["cameras"] == "none" else "images"
        argv = ["--data", data, "--episodes-per-rank", point["batch"], "--length",
                params["length"], "--rounds", params["rounds"], "--dir", str(scratch),
                "--summary"]
        return argv, {}

    def metrics(self, stdout, scratch, point, params):
        s = summary_line(stdout, "IO_BENCH_SUMMARY")
        return {"throughput": s["mb_per_s"], "median_ms": s["median_ms"],
                "ms_per_episode": s["ms_per_episode"]}


KINDS = {k.name: k() for k in (Datagen, Render, Train, Ppo, Io)}


def resolve(path, root):
    """An absolute path: as given, else relative to the working directory when it exists
    there, else to the repository root (configs/...)."""
    path = pathlib.Path(path)
    if path.is_absolute():
        return path
    return path.resolve() if path.exists() else root / path
