// A minimal PNG writer: signature, IHDR, one zlib IDAT of unfiltered RGB
// scanlines, IEND, each chunk with its CRC-32 (zlib's crc32).
#include "util/png.h"

#include <zlib.h>

#include <cstdlib>
#include <fstream>

#include "lightning/error.h"

namespace lightning::detail {

void RgbImage::set(int x, int y, uint32_t rgb) {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * 3];
  p[0] = static_cast<uint8_t>(rgb >> 16);
  p[1] = static_cast<uint8_t>(rgb >> 8);
  p[2] = static_cast<uint8_t>(rgb);
}

void RgbImage::line(int x0, int y0, int x1, int y1, uint32_t rgb, int thickness) {
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  int err = dx + dy;
  while (true) {
    for (int ox = lo; ox <= hi; ++ox) {
      for (int oy = lo; oy <= hi; ++oy) set(x0 + ox, y0 + oy, rgb);
    }
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void RgbImage::disc(int cx, int cy, int radius, uint32_t rgb) {
  for (int y = -radius; y <= radius; ++y) {
    for (int x = -radius; x <= radius; ++x) {
      if (x * x + y * y <= radius * radius) set(cx + x, cy + y, rgb);
    }
  }
}

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()),
                                           static_cast<uInt>(body.size()))));
}

}  // namespace

void write_png(const std::string& path, const RgbImage& image) {
  std::string header;
  put_u32(header, static_cast<uint32_t>(image.width));
  put_u32(header, static_cast<uint32_t>(image.height));
  header += std::string{8, 2, 0, 0, 0};  // 8-bit depth, RGB, deflate, no filter, no interlace

  const size_t row = static_cast<size_t>(image.width) * 3;
  std::string raw;
  raw.reserve((row + 1) * image.height);
  for (int y = 0; y < image.height; ++y) {
    raw += '\0';  // filter type None
    raw.append(reinterpret_cast<const char*>(&image.pixels[y * row]), row);
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(compressed.data()), &size,
                           reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  LIGHTNING_CHECK(rc == Z_OK, "write_png(\"", path, "\"): zlib compress2 failed (", rc, ").");
  compressed.resize(size);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", compressed);
  put_chunk(png, "IEND", "");
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(png.data(), static_cast<std::streamsize>(png.size()));
  file.close();
  LIGHTNING_CHECK(file.good(), "could not write the PNG file \"", path,
                  "\": check that its folder exists and is writable.");
}

}  // namespace lightning::detail
