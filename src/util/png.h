// Internal: writes an 8-bit RGB image as a PNG file (zlib-compressed, one
// IDAT chunk, no filtering), for charts such as LRFinder::plot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lightning::detail {

/// An RGB canvas, row-major, 3 bytes per pixel, white at first.
struct RgbImage {
  RgbImage(int width, int height)
      : width(width), height(height), pixels(static_cast<size_t>(width) * height * 3, 255) {}
  /// Sets one pixel; points outside the canvas are ignored.
  void set(int x, int y, uint32_t rgb);
  /// A line `thickness` pixels wide (Bresenham with a square pen).
  void line(int x0, int y0, int x1, int y1, uint32_t rgb, int thickness = 1);
  void disc(int cx, int cy, int radius, uint32_t rgb);

  int width, height;
  std::vector<uint8_t> pixels;
};

/// `lightning::Error` naming the path when it cannot be written.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace lightning::detail
