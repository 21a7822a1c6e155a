#include "common/sim/image_io.h"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/core/atomic_file.h"
#include "common/core/error.h"

namespace simscale::sim {
namespace {

void AppendToString(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}
void NoFlush(png_structp) {}

}  // namespace

void WritePng(const std::filesystem::path& path, const uint8_t* rgb, int width, int height) {
  CheckArgument(width > 0 && height > 0, "PNG size", fmt::format("{}x{}", width, height),
                "positive width and height");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (png == nullptr || info == nullptr) {
    png_destroy_write_struct(&png, &info);
    throw IoError("libpng could not allocate a writer");
  }
  std::string encoded;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw IoError(fmt::format("libpng failed to encode '{}'", path.string()));
  }
  png_set_write_fn(png, &encoded, AppendToString, NoFlush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int row = 0; row < height; ++row) {
    png_write_row(png, const_cast<png_bytep>(rgb + static_cast<size_t>(row) * width * 3));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  WriteFileAtomic(path, encoded);
}

std::vector<uint8_t> TileImages(const std::vector<const uint8_t*>& images, int width, int height,
                                int columns, int border, int* out_width, int* out_height) {
  CheckArgument(columns > 0, "tile columns", columns, "a positive count");
  const int count = static_cast<int>(images.size());
  const int rows = std::max(1, (count + columns - 1) / columns);
  const int total_w = columns * width + (columns + 1) * border;
  const int total_h = rows * height + (rows + 1) * border;
  std::vector<uint8_t> out(static_cast<size_t>(total_w) * total_h * 3, 24);
  for (int i = 0; i < count; ++i) {
    if (images[static_cast<size_t>(i)] == nullptr) continue;
    const int x0 = border + (i % columns) * (width + border);
    const int y0 = border + (i / columns) * (height + border);
    for (int row = 0; row < height; ++row) {
      std::memcpy(out.data() + (static_cast<size_t>(y0 + row) * total_w + x0) * 3,
                  images[static_cast<size_t>(i)] + static_cast<size_t>(row) * width * 3,
                  static_cast<size_t>(width) * 3);
    }
  }
  *out_width = total_w;
  *out_height = total_h;
  return out;
}

}  // namespace simscale::sim
