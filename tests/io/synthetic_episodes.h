#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/io/episode_store.h"
#include "common/mpi/mpi.h"

// Deterministic synthetic episodes for the io tests: every value is a function of the episode
// index (and step), exactly representable, so a test can compare what it reads with what it
// expects bit for bit, whatever the number of ranks or rounds that wrote it.
namespace simscale::io::testing {

// actions float32 (4,) gzip 4, rewards float32, dones uint8 gzip 1, states float64 (5,);
// obs/ee_pos float32 (3,) gzip 4 in 64-row chunks, obs/gripper float64 (2,), and with images
// obs/agentview_image uint8 (8, 8, 3) unfiltered and obs/wrist_image uint8 (4, 4, 3) gzip 1.
// DR values friction, mass_scale.
StoreLayout SyntheticLayout(bool images = true);

// Length 1..50, varying irregularly with the index.
int64_t SyntheticLength(int64_t episode);
std::string SyntheticLanguage(int64_t episode);
EpisodeRecord SyntheticEpisode(const StoreLayout& layout, int64_t episode);

// Round sizes used by the writers in the tests: uneven, with a round of 1 episode (most ranks get
// none) and an empty round.
int64_t RoundSize(int64_t round);

// Writes episodes [first, total) to `writer` in rounds of RoundSize, each split over the ranks in
// rank order. `first` is where the writer's committed episodes end.
void WriteSyntheticRounds(EpisodeStoreWriter& writer, const mpi::Communicator& comm, int64_t total);

// An FNV-1a digest of everything a store holds for its committed episodes (layout, index, every
// column), read back through EpisodeStoreReader; equal digests mean equal content.
uint64_t StoreDigest(const EpisodeStoreReader& reader);
// The same digest computed from the synthetic episodes [0, total) in memory, without any file.
uint64_t ExpectedDigest(const StoreLayout& layout, int64_t total);

}  // namespace simscale::io::testing
