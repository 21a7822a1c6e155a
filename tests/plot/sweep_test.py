#!/usr/bin/python3
"""benchmarks/sweep's parts without running a tool: the grid and its series, medians of repeats,
speed-up and efficiency against each series' smallest rank count, and the RESULTS.md blocks
regenerated from a CSV while the text around them stays."""
import pathlib
import sys
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "python")]

from sweeplib import kinds, plan, results, tables  # noqa: E402


class Grid(unittest.TestCase):
    def test_EveryCombinationWithRanksFastestAndVaryingAxesNamingTheSeries(self):
        kind = kinds.KINDS["datagen"]
        p = plan.make_plan(kind, {"ranks": ["1", "2"], "cameras": ["none", "agentview"]}, {}, 1,
                           "build", "out", "mpirun")
        self.assertEqual([(q["cameras"], q["ranks"]) for q in p["points"]],
                         [("none", "1"), ("none", "2"), ("agentview", "1"), ("agentview", "2")])
        self.assertEqual([plan.series_label(kind, q) for q in p["points"]],
                         ["cameras=none"] * 2 + ["cameras=agentview"] * 2)
        axes = {"cameras": ["none", "agentview"], "scaling": ["strong", "weak"]}
        two = plan.make_plan(kind, axes, {}, 1, "build", "out", "mpirun")
        self.assertEqual(plan.series_label(kind, two["points"][-1]),
                         "cameras=agentview scaling=weak")
        self.assertEqual([q["index"] for q in p["points"]], [0, 1, 2, 3])


class Results(unittest.TestCase):
    def test_MedianOfRepeatsWithTheirRange(self):
        m = results.median_metrics([{"throughput": 3.0, "model": "bc"}, {"throughput": 1.0,
                                    "model": "bc"}, {"throughput": 2.0, "model": "bc"}])
        self.assertEqual((m["throughput"], m["throughput_min"], m["throughput_max"]),
                         (2.0, 1.0, 3.0))
        self.assertEqual(m["model"], "bc")

    def test_EfficiencyAgainstTheSmallestRankCountOfEachSeries(self):
        rows = [{"series": "a", "ranks": 2, "throughput": 10.0},
                {"series": "a", "ranks": 4, "throughput": 15.0},
                {"series": "b", "ranks": 1, "throughput": 4.0},
                {"series": "b", "ranks": 2, "throughput": 8.0}]
        results.add_efficiency(rows)
        self.assertEqual([r["efficiency"] for r in rows], [100.0, 75.0, 100.0, 100.0])
        self.assertEqual([r["speedup"] for r in rows], [1.0, 1.5, 1.0, 2.0])


CSV = """sweep,series,ranks,cameras,image_size,scaling,batch,repeats,throughput,unit,speedup,\
efficiency,episodes,env_steps_per_s,hdf5_share,hdf5_ms_per_round,load_avg,cpu_model,cores,\
openmpi,hdf5,mujoco,libtorch,git,started
datagen,datagen,1,none,128,strong,4,3,7.5,episodes/s,1,100,32,730,0.3,3,0.5,Xeon,2,4.1,1.10,2.2,\
1.13,abc,2026-12-01 10:00
datagen,datagen,2,none,128,strong,4,3,12.5,episodes/s,1.67,83.3,32,1210,0.31,4.5,1.5,Xeon,2,4.1,\
1.10,2.2,1.13,abc,2026-12-01 10:01
"""


class Tables(unittest.TestCase):
    def test_BlocksAreRegeneratedAndTheTextAroundThemKept(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "results").mkdir()
            (tmp / "results/datagen.csv").write_text(CSV)
            md = tmp / "RESULTS.md"
            md.write_text("Intro.\n<!-- sweep-table: results/datagen.csv -->\nstale\n"
                          "<!-- end sweep-table -->\nCommentary stays.\n")
            changed, blocks = tables.update(md, check=True)
            self.assertEqual((changed, blocks), (["results/datagen.csv"], 1))
            self.assertIn("stale", md.read_text(), "--check writes nothing")
            tables.update(md)
            text = md.read_text()
            self.assertTrue(text.startswith("Intro.\n") and text.endswith("Commentary stays.\n"))
            self.assertIn("| none | strong | 2 | 32 | 12.50 | 1210 | 0.3 % | 4.5 | 83 % | 1.5 |",
                          text)
            self.assertIn("Xeon, 2 cores, load average 0.5-1.5", text)
            self.assertEqual(tables.update(md, check=True)[0], [], "up to date afterwards")


if __name__ == "__main__":
    unittest.main(verbosity=2)
