#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace simscale::sim {

// Writes an 8-bit RGB image (H x W x 3, row 0 at the top) as PNG, atomically.
void WritePng(const std::filesystem::path& path, const uint8_t* rgb, int width, int height);

// Tiles equally sized RGB images into a grid with `columns` columns (row-major order), with a
// `border`-pixel dark gap. Missing cells stay dark.
std::vector<uint8_t> TileImages(const std::vector<const uint8_t*>& images, int width, int height,
                                int columns, int border, int* out_width, int* out_height);

}  // namespace simscale::sim
