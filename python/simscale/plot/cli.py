"""simscale-plot: figures of the tools' outputs.

  simscale-plot train RUN_DIR...        train_ddp curves (several runs overlaid)
  simscale-plot ppo RUN_DIR...          ppo_vec learning curves against env steps
  simscale-plot dataset FILE.h5         a datagen_mpi dataset: episodes, actions, states, DR, frames
  simscale-plot eval RESULTS_DIR...     evaluate: success with 95 % intervals; transfer matrix
  simscale-plot sweep CSV               benchmarks/sweep: throughput and efficiency against ranks

PNG by default (--format svg for SVG; -o FILE.svg too). Each figure goes beside its input unless
-o says where (with several inputs: into the current directory). Exit codes: 0 figures written,
2 bad input (missing file, wrong kind of file), 3 plotting unavailable (matplotlib missing).
"""
import argparse
import sys

from simscale import console
from simscale.plot import dataset, evaluation, figure, inputs, ppo, sweep, train

COMMANDS = {  # draw, metavar, nargs, input help, what is drawn
    "train": (train.draw, "RUN_DIR", "+", "train_ddp run directories (metrics.jsonl or .csv)",
              "Loss, validation loss, learning rate, gradient norm, samples/s and time shares "
              "against optimizer steps; several runs overlaid. Default: RUN_DIR/curves.png."),
    "ppo": (ppo.draw, "RUN_DIR", "+", "ppo_vec run directories (metrics.jsonl)",
            "Return, success, episode length, entropy, approximate KL and SPS against env steps; "
            "several runs overlaid. Default: RUN_DIR/curves.png."),
    "dataset": (dataset.draw, "FILE", None, "a dataset file written by datagen_mpi",
                "Episode lengths, returns, success and per-dimension actions (FILE_stats.png), "
                "per-dimension observations (_states), the DR values drawn (_dr, when they vary) "
                "and a grid of camera frames (_cameras, when the file has images)."),
    "eval": (evaluation.draw, "RESULTS_DIR", "+", "evaluate output directories (results.json)",
             "Success with 95 % Wilson intervals per policy and condition, one panel per env "
             "(success.png), and with several conditions the transfer matrix as a heatmap "
             "(transfer.png). Default: inside RESULTS_DIR; several: ./evaluation*.png."),
    "sweep": (sweep.draw, "CSV", None, "a CSV written by benchmarks/sweep",
              "Throughput and parallel efficiency against ranks, one line per series, with the "
              "ideal line. Default: the CSV's name with .png."),
}


def parser():
    root = argparse.ArgumentParser(prog="simscale-plot", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, metavar, nargs, help_text, drawn) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=drawn)
        sub.add_argument("inputs", metavar=metavar, nargs=nargs or 1, help=help_text)
        sub.add_argument("-o", "--output", help="figure file (its extension picks the format)")
        sub.add_argument("--format", choices=figure.FORMATS, default="png",
                         help="file format when -o has no extension (default png)")
        sub.add_argument("--log-level", choices=console.LEVELS, default="info")
    return root


def main(argv=None):
    args = parser().parse_args(argv)
    console.set_level(args.log_level)
    draw = COMMANDS[args.command][0]
    many = COMMANDS[args.command][2] == "+"
    try:
        draw(args.inputs if many else args.inputs[0], args.output, args.format)
    except inputs.InputError as e:
        console.error(f"simscale-plot {args.command}: {e}")
        return 2
    except figure.MissingDependency as e:
        console.error(f"simscale-plot: plotting unavailable: {e}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
