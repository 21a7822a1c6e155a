#!/usr/bin/python3
"""simscale-plot on the debug outputs of every tool: each subcommand writes a PNG of the expected
size that is not blank and has axes drawn; SVG on request; bad input gives a clear message and
exit code 2. And the tools draw their own figures at the end of a run (--plots false: none), and
a missing or failing simscale-plot costs a warning, never the run.

  tests/plot/plot_test.py BUILD_DIR [unittest options]
"""
import csv
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = pathlib.Path(sys.argv.pop(1)).resolve() if len(sys.argv) > 1 else pathlib.Path("build")
SOURCE = pathlib.Path(__file__).resolve().parents[2]
BIN = BUILD / "bin"
PLOT = BIN / "simscale-plot"
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
QUIET = ["--log.level", "warn", "--plots", "false"]
OUT = pathlib.Path(tempfile.mkdtemp(prefix="simscale-plot-test-"))


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300,
                          **kwargs)


def check(argv):
    result = run(argv)
    assert result.returncode == 0, f"{' '.join(map(str, argv))}\n{result.stdout}{result.stderr}"
    return result


def make_outputs():
    """Debug-sized outputs of every tool (seconds each), drawn by the tests below."""
    data = OUT / "reach.h5"
    check([*MPIRUN, "-n", "2", BIN / "datagen_mpi", "--env", "reach", "--episodes", "10",
           "--max-steps", "30", "--dr", "default", "--cameras", "agentview", "--set",
           "datagen.image_size=32", "--output", data, *QUIET])
    check([BIN / "train_ddp", "--config", SOURCE / "configs/bc_reach_debug.yaml", "--dataset",
           data, "--steps", "40", "--set", "train.log_every=5", "--set", "train.eval_every=20",
           "--set", "train.batch_size=16", "--output", OUT / "bc", *QUIET])
    check([BIN / "ppo_vec", "--config", SOURCE / "configs/ppo_reach_debug.yaml", "--set",
           "ppo.total_steps=1024", "--set", "ppo.num_envs=4", "--set", "ppo.epochs=2",
           "--output", OUT / "ppo", *QUIET])
    for policy in ("scripted", "random"):
        check([BIN / "evaluate", "--env", "reach", "--policy", policy, "--episodes", "4",
               "--max-steps", "30", "--conditions", "clean,default", "--output",
               OUT / f"eval_{policy}", *QUIET])
    check(["/usr/bin/python3", SOURCE / "benchmarks/sweep", "--log-level", "warn", "datagen",
           "--ranks", "1,2", "--repeats", "1", "--episodes", "2", "--env", "reach", "--build",
           BUILD, "--out", OUT / "sweep"])


def read_png(path):
    import matplotlib.image
    return matplotlib.image.imread(str(path))


class Png:
    """Pixel checks of a written figure."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.pixels = read_png(self.path)[:, :, :3]

    def size(self):
        return self.pixels.shape[1], self.pixels.shape[0]

    def ink_fraction(self):
        """Share of pixels that are not (nearly) white."""
        return float((self.pixels.min(axis=2) < 0.9).mean())

    def colored_pixels(self):
        """Pixels of a saturated colour (data drawn, not only black text and grey grid)."""
        return int(((self.pixels.max(axis=2) - self.pixels.min(axis=2)) > 0.25).sum())

    def axis_lines(self, min_width, min_height):
        """Rows and columns holding a dark straight run of at least min_width (min_height)
        pixels: the axes' spines."""
        import numpy as np
        dark = self.pixels.max(axis=2) < 0.35
        width, height = self.size()

        def longest_runs(lines, minimum):
            count = 0
            for line in lines:
                padded = np.concatenate(([0], line.astype(np.int8), [0]))
                edges = np.flatnonzero(np.diff(padded))
                if len(edges) and (edges[1::2] - edges[::2]).max() >= minimum:
                    count += 1
            return count
        return longest_runs(dark, min_width), longest_runs(dark.T, min_height)


class FigureTest(unittest.TestCase):
    def plot(self, *argv):
        result = run([PLOT, *argv])
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def assertFigure(self, path, width, height, panels=1):
        """A PNG of width x height pixels with ink, colour and axes boxes (`panels` side by
        side: each box at least half of its share of the width)."""
        path = pathlib.Path(path)
        self.assertTrue(path.exists(), f"{path} not written")
        self.assertEqual(path.read_bytes()[:8], b"\x89PNG\r\n\x1a\n", path)
        png = Png(path)
        self.assertEqual(png.size(), (width, height), path)
        self.assertTrue(0.02 < png.ink_fraction() < 0.85, f"{path}: {png.ink_fraction():.3f}")
        self.assertGreater(png.colored_pixels(), 200, f"{path}: nothing coloured drawn")
        rows, columns = png.axis_lines(0.5 * width / panels, 0.08 * height)
        # Every axes box has a top and a bottom spine, a left and a right one.
        self.assertGreaterEqual(rows, 2, f"{path}: no horizontal axis lines")
        self.assertGreaterEqual(columns, 2 * min(panels, 3), f"{path}: too few vertical axis lines")


class PlotTrain(FigureTest):
    def test_OneRunDrawsItsCurvesIntoTheRunDirectory(self):
        self.plot("train", OUT / "bc")
        self.assertFigure(OUT / "bc/curves.png", 1300, 700, panels=6)

    def test_TwoRunsAreOverlaidInOneFigure(self):
        self.plot("train", OUT / "bc", OUT / "bc", "-o", OUT / "two_runs.png")
        self.assertFigure(OUT / "two_runs.png", 1300, 700, panels=6)

    def test_ValidationLossesFromTheMetricsAreDrawn(self):
        rows = [line for line in (OUT / "bc/metrics.jsonl").read_text().splitlines()
                if "valid_loss" in line]
        self.assertEqual(len(rows), 2, "validation at steps 20 and 40")

    def test_SvgOnRequest(self):
        self.plot("train", OUT / "bc", "--format", "svg", "-o", OUT / "curves_svg")
        text = (OUT / "curves_svg.svg").read_text()
        self.assertIn("<svg", text)
        self.assertIn("Validation loss", text)


class PlotPpo(FigureTest):
    def test_LearningCurvesAgainstEnvSteps(self):
        self.plot("ppo", OUT / "ppo")
        self.assertFigure(OUT / "ppo/curves.png", 1300, 700, panels=6)


class PlotDataset(FigureTest):
    def test_EpisodesActionsStatesDrValuesAndCameraFrames(self):
        self.plot("dataset", OUT / "reach.h5")
        self.assertFigure(OUT / "reach_stats.png", 1300, 700, panels=3)
        # reach: 23 observation values in 4 rows of 7.
        self.assertFigure(OUT / "reach_states.png", 1300, 740, panels=7)
        self.assertFigure(OUT / "reach_dr.png", 1300, 569, panels=6)  # 3 rows of 6
        # 4 episodes x 6 frames of the one camera.
        self.assertFigure(OUT / "reach_cameras.png", 1120, 770, panels=6)


class PlotEval(FigureTest):
    def test_SuccessBarsAndTransferMatrixOfTwoPolicies(self):
        self.plot("eval", OUT / "eval_scripted", OUT / "eval_random", "-o", OUT / "eval.png")
        self.assertFigure(OUT / "eval.png", 650, 480)
        self.assertFigure(OUT / "eval_transfer.png", 700, 290)


class PlotSweep(FigureTest):
    def test_ThroughputAndEfficiencyAgainstRanks(self):
        with open(OUT / "sweep/datagen.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["ranks"] for r in rows], ["1", "2"])
        self.plot("sweep", OUT / "sweep/datagen.csv", "-o", OUT / "sweep.png")
        self.assertFigure(OUT / "sweep.png", 1200, 500, panels=2)


class BadInput(unittest.TestCase):
    def fails(self, argv, message):
        result = run([PLOT, *argv])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(message, result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_MissingFile(self):
        self.fails(["dataset", OUT / "missing.h5"], "missing.h5' does not exist")
        self.fails(["train", OUT / "no_run"], "no_run' does not exist (expected a train_ddp run")

    def test_WrongKindOfFile(self):
        self.fails(["dataset", OUT / "bc/metrics.jsonl"], "is not an HDF5 file")
        self.fails(["train", OUT / "reach.h5"], "is a file, not a directory")
        self.fails(["train", OUT / "ppo"], "is a ppo_vec run: use `simscale-plot ppo")
        self.fails(["ppo", OUT / "bc"], "a train_ddp run? use `simscale-plot train`")
        self.fails(["eval", OUT / "bc"], "has no results.json: not an evaluate output")
        self.fails(["sweep", OUT / "eval_random/results.csv"], "is not a benchmarks/sweep CSV")


class ToolsDrawTheirOwn(FigureTest):
    """The tools run simscale-plot at the end (app::DrawFigures), or warn once and succeed."""

    def evaluate(self, binary, out, *extra, path=None):
        env = dict(os.environ, PATH=path) if path else None
        return run([binary, "--env", "reach", "--policy", "scripted", "--episodes", "2",
                    "--max-steps", "20", "--output", out, "--log.level", "info", *extra], env=env)

    def test_EvaluateDrawsItsSuccessFigureUnlessPlotsFalse(self):
        drawn = self.evaluate(BIN / "evaluate", OUT / "tool_eval")
        self.assertEqual(drawn.returncode, 0, drawn.stderr)
        self.assertFigure(OUT / "tool_eval/success.png", 650, 480)
        self.assertNotIn("simscale-plot", drawn.stdout, "figure logs stay off stdout")
        quiet = self.evaluate(BIN / "evaluate", OUT / "tool_eval_off", "--plots", "false")
        self.assertEqual(quiet.returncode, 0, quiet.stderr)
        self.assertFalse((OUT / "tool_eval_off/success.png").exists())

    def test_TrainAndDatagenStatsDrawTheirs(self):
        run_dir = OUT / "tool_train"
        check([BIN / "train_ddp", "--config", SOURCE / "configs/bc_reach_debug.yaml",
               "--dataset", OUT / "reach.h5", "--steps", "10", "--set", "train.warmup_steps=0",
               "--set", "train.batch_size=32", "--output", run_dir, "--log.level", "warn"])
        self.assertFigure(run_dir / "curves.png", 1300, 700, panels=6)
        data = OUT / "stats_copy.h5"
        shutil.copy(OUT / "reach.h5", data)
        stats = check([BIN / "datagen_mpi", "--stats", data])
        self.assertIn("success rate", stats.stdout)
        self.assertFigure(OUT / "stats_copy_stats.png", 1300, 700, panels=3)
        self.assertTrue((OUT / "stats_copy_cameras.png").exists())

    def copy_of_evaluate(self, name, plotter=None):
        """evaluate in a directory of its own, with `plotter` (a script) beside it or none."""
        directory = OUT / name
        directory.mkdir()
        shutil.copy(BIN / "evaluate", directory / "evaluate")
        if plotter:
            (directory / "simscale-plot").write_text(plotter)
            (directory / "simscale-plot").chmod(0o755)
        return directory / "evaluate"

    def test_MissingPlotterWarnsOnceAndTheRunSucceeds(self):
        binary = self.copy_of_evaluate("no_plotter")
        result = self.evaluate(binary, OUT / "no_plotter/out", path="/usr/bin:/bin")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue((OUT / "no_plotter/out/results.json").exists())
        self.assertEqual(result.stderr.count("plots: simscale-plot not found"), 1, result.stderr)
        self.assertIn("the run's results are unaffected", result.stderr)

    def test_FailingOrUnavailablePlottingWarnsAndTheRunSucceeds(self):
        for name, code, message in (("failing", 1, "failed (exit 1)"),
                                    ("no_matplotlib", 3, "plotting unavailable")):
            binary = self.copy_of_evaluate(name, f"#!/bin/sh\nexit {code}\n")
            result = self.evaluate(binary, OUT / name / "out")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stderr.count(message), 1, result.stderr)


def setUpModule():
    make_outputs()


def tearDownModule():
    shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
