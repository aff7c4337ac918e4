#pragma once
// JPEG and PNG files decoded into 8-bit pixels with the channels a data set asks for: JPEG with
// libjpeg-turbo's TurboJPEG API (at a reduced DCT scale when the picture is much larger than
// needed), PNG with libpng's simplified API. Free of LibTorch; safe to call from many threads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace automl::trials {

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;  // row-major, interleaved: (y * width + x) * channels + c
};

struct DecodeRequest {
  // 1: luma, as PIL's convert("L") (0.299 R + 0.587 G + 0.114 B); 3: RGB, as PIL's
  // convert("RGB"). Either from grayscale, RGB, RGBA (alpha dropped, as PIL does), palette or
  // CMYK files; CMYK JPEGs are taken as Adobe's inverted CMYK, as PIL takes them.
  int channels = 3;
  // JPEG only: decode at the smallest libjpeg-turbo scale (1/8 .. 1) that keeps the shorter side
  // at least this long; 0 = always at full size. The scale depends only on the file's size and
  // this number, so that a picture decodes the same way wherever and whenever it is decoded.
  int min_short_side = 0;
};

// The file's format, from its first bytes (not its name): what decode_image accepts.
enum class ImageFormat { jpeg, png, unknown };
ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size);

// Decodes one encoded file held in memory; `name` (the file's path) leads every error. Throws
// InputError(name, what is wrong) on anything that is neither a JPEG nor a PNG, on corrupt or
// truncated data (a truncated JPEG is an error, as for PIL) and on more than 2^28 pixels.
Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                   const std::string& name);
// Reads and decodes `path`; an unreadable file is an InputError naming it.
Image decode_image_file(const std::string& path, const DecodeRequest& request);
// The same into `image`, reusing its memory (the loaders decode thousands of files per thread).
void decode_image(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                  const std::string& name, Image& image);
void decode_image_file(const std::string& path, const DecodeRequest& request, Image& image);

// The width and height decode_image would produce, from the header alone.
struct ImageSize {
  int width = 0, height = 0;
};
ImageSize decoded_size(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                       const std::string& name);

// The whole file, or InputError(path, "cannot read").
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

}  // namespace automl::trials
