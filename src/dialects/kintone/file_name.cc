#include "dialects/kintone/file_name.h"

#include <iconv.h>

#include <cerrno>

#include "core/text.h"

namespace up::dialects::kintone {
namespace {

std::optional<std::string> gbk_to_utf8(std::string_view in) {
  iconv_t cd = iconv_open("UTF-8", "GB18030");
  // NOLINTNEXTLINE(performance-no-int-to-ptr): (iconv_t)-1 is iconv_open's documented error value.
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(in.size() * 4 + 4, '\0');  // a GB18030 character is never more than 4 UTF-8 bytes
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  const size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (r == static_cast<size_t>(-1) || src_left != 0) return std::nullopt;
  out.resize(out.size() - dst_left);
  return out;
}

}  // namespace

std::optional<std::string> decode_file_name(std::string_view raw) {
  std::string name;
  if (valid_utf8(raw)) {
    name = std::string(raw);
  } else {
    auto decoded = gbk_to_utf8(raw);
    if (!decoded) return std::nullopt;
    name = std::move(*decoded);
  }
  if (!acceptable_file_name(name)) return std::nullopt;
  return name;
}

}  // namespace up::dialects::kintone
