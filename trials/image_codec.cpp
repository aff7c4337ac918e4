#include "trials/image_codec.h"

#include <fmt/format.h>
#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/error.h"

namespace automl::trials {
namespace {

// Refused before any pixel memory is allocated: a corrupt or hostile header cannot ask for
// gigabytes (PIL refuses from 2 x 89 million pixels on).
constexpr std::int64_t kMaxPixels = std::int64_t{1} << 28;

void check_size(std::int64_t width, std::int64_t height, const std::string& name) {
  if (width < 1 || height < 1 || width * height > kMaxPixels)
    throw InputError(name,
                     fmt::format("a {} x {} image (expected 1 to 2^28 pixels)", width, height));
}

// One TurboJPEG decompressor per thread, reused for every file the thread decodes.
tjhandle decompressor() {
  struct Handle {
    tjhandle handle = tjInitDecompress();
    ~Handle() {
      if (handle) tjDestroy(handle);
    }
  };
  thread_local Handle h;
  if (!h.handle) throw std::runtime_error("cannot create a TurboJPEG decompressor");
  return h.handle;
}

struct JpegHeader {
  int width = 0, height = 0, colorspace = 0;
};

JpegHeader read_jpeg_header(tjhandle tj, const std::uint8_t* data, std::size_t size,
                            const std::string& name) {
  JpegHeader header;
  int subsampling = 0;
  if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &header.width, &header.height,
                          &subsampling, &header.colorspace) != 0)
    throw InputError(name, fmt::format("not a readable JPEG ({})", tjGetErrorStr2(tj)));
  check_size(header.width, header.height, name);
  return header;
}

bool is_cmyk(int colorspace) {
  return colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
}

// The smallest scale (<= 1) that keeps the shorter side at least `min_short_side` long.
tjscalingfactor choose_scale(int width, int height, int min_short_side) {
  tjscalingfactor best{1, 1};
  if (min_short_side <= 0) return best;
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  for (int i = 0; i < count; ++i) {
    const auto f = factors[i];
    if (f.num > f.denom) continue;
    const int short_side = std::min(TJSCALED(width, f), TJSCALED(height, f));
    if (short_side >= min_short_side && f.num * best.denom < best.num * f.denom) best = f;
  }
  return best;
}

// PIL's fixed-point conversions (Pillow's Convert.c), so that the pixels match PIL's.
std::uint8_t luma(const std::uint8_t* rgb) {
  return static_cast<std::uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >>
                                   16);
}
std::uint8_t mul_div_255(int a, int b) {
  const int t = a * b + 128;
  return static_cast<std::uint8_t>(((t >> 8) + t) >> 8);
}
// Adobe's inverted CMYK as stored (255 - C, ..., 255 - K) to RGB: (1 - C)(1 - K) per channel.
void inverted_cmyk_to_rgb(const std::uint8_t* in, std::uint8_t* out) {
  const int not_k = in[3];
  for (int c = 0; c < 3; ++c)
    out[c] = static_cast<std::uint8_t>(not_k - mul_div_255(255 - in[c], not_k));
}

// `pixels` samples of `from` channels (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA or inverted CMYK)
// to `to` channels (1 or 3).
void convert_channels(const std::uint8_t* in, int from, bool cmyk, int to, std::size_t pixels,
                      std::uint8_t* out) {
  std::uint8_t rgb[3];
  for (std::size_t i = 0; i < pixels; ++i, in += from, out += to) {
    const std::uint8_t* colour = in;
    if (cmyk) {
      inverted_cmyk_to_rgb(in, rgb);
      colour = rgb;
    }
    if (from <= 2) {  // gray (+ alpha, dropped)
      for (int c = 0; c < to; ++c) out[c] = in[0];
    } else if (to == 1) {
      out[0] = luma(colour);
    } else {
      std::memcpy(out, colour, 3);
    }
  }
}

// Resizes `image.pixels` to the decoded size; the bytes are written next. Decoding into the
// same Image again reuses its memory.
std::uint8_t* pixel_memory(Image& image, int channels, std::vector<std::uint8_t>& scratch,
                           bool convert) {
  const auto pixels =
      static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  image.pixels.resize(pixels * static_cast<std::size_t>(image.channels));
  if (!convert) return image.pixels.data();
  scratch.resize(pixels * static_cast<std::size_t>(channels));
  return scratch.data();
}

void decode_jpeg(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                 const std::string& name, Image& image) {
  const tjhandle tj = decompressor();
  const auto header = read_jpeg_header(tj, data, size, name);
  const auto scale = choose_scale(header.width, header.height, request.min_short_side);
  image.width = TJSCALED(header.width, scale);
  image.height = TJSCALED(header.height, scale);
  image.channels = request.channels;
  const bool cmyk = is_cmyk(header.colorspace);
  // Gray from a colour file is its luma plane (Y), which is what PIL's "L" computes from RGB.
  const int format = cmyk ? TJPF_CMYK : request.channels == 1 ? TJPF_GRAY : TJPF_RGB;
  thread_local std::vector<std::uint8_t> scratch;
  std::uint8_t* decoded = pixel_memory(image, tjPixelSize[format], scratch, cmyk);
  if (tjDecompress2(tj, data, static_cast<unsigned long>(size), decoded, image.width, 0,
                    image.height, format, 0) != 0) {
    // Warnings (e.g. extraneous bytes before a marker) leave a whole picture, as in PIL; a
    // truncated file (libjpeg's "Premature end of JPEG file" warning) does not.
    const std::string message = tjGetErrorStr2(tj);
    if (tjGetErrorCode(tj) == TJERR_FATAL || message.find("Premature end") != std::string::npos)
      throw InputError(name, fmt::format("corrupt JPEG data ({})", message));
  }
  if (cmyk)
    convert_channels(decoded, 4, true, image.channels, image.pixels.size() / image.channels,
                     image.pixels.data());
}

void decode_png(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                const std::string& name, Image& image) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, data, size))
    throw InputError(name, fmt::format("not a readable PNG ({})", png.message));
  if (png.width > static_cast<png_uint_32>(kMaxPixels) ||
      png.height > static_cast<png_uint_32>(kMaxPixels) ||
      static_cast<std::int64_t>(png.width) * png.height > kMaxPixels) {
    png_image_free(&png);
    check_size(png.width, png.height, name);
  }
  // 8-bit samples in the file's own layout (gray or colour, with or without alpha); the
  // conversion to the channels asked is PIL's, below, not libpng's compositing.
  png.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  const int channels = static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(png.format));
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  image.channels = request.channels;
  thread_local std::vector<std::uint8_t> scratch;
  const bool convert = channels != request.channels;
  std::uint8_t* decoded = pixel_memory(image, channels, scratch, convert);
  if (!png_image_finish_read(&png, nullptr, decoded, 0, nullptr))
    throw InputError(name, fmt::format("corrupt PNG data ({})", png.message));
  if (convert)
    convert_channels(decoded, channels, false, image.channels, image.pixels.size() / image.channels,
                     image.pixels.data());
}

std::uint32_t big_endian_32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

void check_request(const DecodeRequest& request) {
  if (request.channels != 1 && request.channels != 3)
    throw std::invalid_argument(
        fmt::format("decode: {} channels (expected 1 or 3)", request.channels));
}

[[noreturn]] void unknown_format(const std::string& name) {
  throw InputError(name, "neither a JPEG nor a PNG file (by its first bytes)");
}

}  // namespace

ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return ImageFormat::jpeg;
  if (size >= 8 && std::memcmp(data, png_signature, 8) == 0) return ImageFormat::png;
  return ImageFormat::unknown;
}

void decode_image(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                  const std::string& name, Image& image) {
  check_request(request);
  switch (sniff_image_format(data, size)) {
    case ImageFormat::jpeg:
      return decode_jpeg(data, size, request, name, image);
    case ImageFormat::png:
      return decode_png(data, size, request, name, image);
    case ImageFormat::unknown:
      break;
  }
  unknown_format(name);
}

Image decode_image(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                   const std::string& name) {
  Image image;
  decode_image(data, size, request, name, image);
  return image;
}

ImageSize decoded_size(const std::uint8_t* data, std::size_t size, const DecodeRequest& request,
                       const std::string& name) {
  switch (sniff_image_format(data, size)) {
    case ImageFormat::jpeg: {
      const auto header = read_jpeg_header(decompressor(), data, size, name);
      const auto scale = choose_scale(header.width, header.height, request.min_short_side);
      return {TJSCALED(header.width, scale), TJSCALED(header.height, scale)};
    }
    case ImageFormat::png: {
      // The IHDR chunk follows the signature: length, "IHDR", width, height (big-endian).
      if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0)
        throw InputError(name, "not a readable PNG (no IHDR chunk)");
      const auto width = big_endian_32(data + 16), height = big_endian_32(data + 20);
      check_size(width, height, name);
      return {static_cast<int>(width), static_cast<int>(height)};
    }
    case ImageFormat::unknown:
      break;
  }
  unknown_format(name);
}

void read_file_bytes(const std::string& path, std::vector<std::uint8_t>& bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path, "cannot read");
  const auto size = static_cast<std::streamoff>(in.tellg());
  bytes.resize(static_cast<std::size_t>(std::max<std::streamoff>(size, 0)));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw InputError(path, "cannot read");
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::vector<std::uint8_t> bytes;
  read_file_bytes(path, bytes);
  return bytes;
}

void decode_image_file(const std::string& path, const DecodeRequest& request, Image& image) {
  thread_local std::vector<std::uint8_t> bytes;
  read_file_bytes(path, bytes);
  decode_image(bytes.data(), bytes.size(), request, path, image);
}

Image decode_image_file(const std::string& path, const DecodeRequest& request) {
  Image image;
  decode_image_file(path, request, image);
  return image;
}

}  // namespace automl::trials
