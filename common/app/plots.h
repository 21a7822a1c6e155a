#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/app/tool.h"
#include "common/mpi/mpi.h"

// Figures of a run's outputs, drawn at the end of the run by the simscale-plot command
// (scripts/simscale-plot: Python + matplotlib). Plotting is output only and optional: a missing
// command, a missing matplotlib or a failing figure costs one warning, never the run.
namespace simscale::app {

// Where simscale-plot is: next to the running executable (the build tree's bin/ links it, an
// install puts it in bin/), else the install prefix's bin/. Empty when neither exists (the
// environment, PATH included, is not consulted).
std::filesystem::path FindPlotCommand();

// Runs `simscale-plot SUBCOMMAND ARGUMENTS... --log-level LEVEL` on rank 0 when run.plots is set,
// waits for it and returns whether it succeeded; other ranks return false at once (no
// collective). Its output goes to this process's stderr, so stdout keeps only the tool's results.
bool DrawFigures(std::string_view subcommand, const std::vector<std::string>& arguments,
                 const RunOptions& run, const mpi::Communicator& comm);

}  // namespace simscale::app
