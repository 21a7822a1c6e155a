// Writes the golden files (tests/golden/*.json) from this build: run by scripts/update_golden.sh,
// never by the tests. Usage: golden_record OUTPUT_DIR
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "common/core/atomic_file.h"
#include "tests/golden/golden.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::fprintf(stderr, "usage: golden_record OUTPUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path work = fs::temp_directory_path() / ("simscale_golden_" + std::to_string(getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  try {
    const fs::path dataset = work / "pick_place.h5";
    const nlohmann::json datagen = simscale::golden::RunDatagen(1, dataset);
    const nlohmann::json train = simscale::golden::RunTrain(dataset, work / "bc");
    simscale::WriteFileAtomic(out / simscale::golden::kDatagenFile, datagen.dump(2) + "\n");
    simscale::WriteFileAtomic(out / simscale::golden::kTrainFile, train.dump(2) + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "golden_record: %s\n", e.what());
    fs::remove_all(work);
    return 1;
  }
  fs::remove_all(work);
  std::printf("wrote %s and %s in %s\n", simscale::golden::kDatagenFile,
              simscale::golden::kTrainFile, out.c_str());
  return 0;
}
