// libFuzzer target: the parser of a checkpoint's metadata (meta.yaml: format version, model
// options, the policy contract, normalisation statistics; both checkpoint formats). Contract: any
// text is read or rejected with an InvalidArgumentError naming the checkpoint; nothing else
// escapes, nothing crashes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/core/error.h"
#include "common/models/checkpoint_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    simscale::models::ParseCheckpointMetadata(text, "fuzz_checkpoint");
  } catch (const simscale::InvalidArgumentError&) {
  }
  return 0;
}
