#pragma once

#include <filesystem>
#include <string>
#include <vector>

// Checks a dataset file against the schema (schema.h) and reports every problem found, each with
// the path in the file it concerns ("/episodes/index/start_step[3]", "/data/demo_2@num_samples").
namespace simscale::io {

struct Problem {
  std::string path_in_file;
  std::string message;
};

// Groups, attributes, element types and shapes of the store; index consistency (contiguous
// starts, lengths summing to the rows, T + 1 observation rows per episode, dones[T-1] = 1);
// completeness; robomimic views (env_args JSON, total, one demo per episode with the right
// num_samples and attributes, every virtual dataset mapping the right rows of the right column);
// masks (names of existing demos, no duplicates, no overlap, every demo in one). Empty when the
// file is good. Never throws for a bad file: an unreadable part becomes a problem.
std::vector<Problem> ValidateDataset(const std::filesystem::path& path);

// One line per problem: "<path>: <message>".
std::string FormatProblems(const std::vector<Problem>& problems);

}  // namespace simscale::io
