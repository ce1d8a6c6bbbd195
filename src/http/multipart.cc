#include "http/multipart.h"

#include <algorithm>

#include "http/header_params.h"

namespace up::http {
namespace {

tl::unexpected<Error> bad(std::string message) {
  return fail(Errc::kBadMultipart, std::move(message));
}

}  // namespace

MultipartParser::MultipartParser(const std::string& boundary, MultipartLimits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits) {
  // scan() relies on '\r' appearing in the delimiter only at index 0, so a kept
  // partial match never hides the start of another one.
  if (boundary.empty() || boundary.find_first_of("\r\n") != std::string::npos) {
    state_ = State::kFailed;
    error_ = Error{Errc::kBadMultipart, "invalid multipart boundary"};
    return;
  }
  // The first boundary may open the body with no CRLF before it: pretend the
  // CRLF was seen.
  match_ = skip_ = 2;
}

bool MultipartParser::done() const { return state_ == State::kEpilogue; }

Status MultipartParser::feed(std::string_view data, MultipartSink& sink) {
  if (state_ == State::kFailed) return fail(error_);
  auto st = run(data, sink);
  if (!st) {
    state_ = State::kFailed;
    error_ = st.error();
    pending_.clear();
    pending_.shrink_to_fit();
  }
  return st;
}

Status MultipartParser::finish(MultipartSink& sink) {
  if (state_ == State::kFailed) return fail(error_);
  if (state_ == State::kEpilogue) return ok();
  state_ = State::kFailed;
  error_ = Error{Errc::kBadMultipart, "multipart body ended before the closing boundary"};
  return fail(error_);
}

Status MultipartParser::run(std::string_view data, MultipartSink& sink) {
  while (!data.empty()) {
    switch (state_) {
      case State::kPreamble:
      case State::kBody: {
        const bool in_body = state_ == State::kBody;
        auto r = scan(data, in_body ? &sink : nullptr);
        if (!r) return fail(std::move(r.error()));
        data.remove_prefix(r->consumed);
        if (r->found) {
          if (in_body) UP_TRY(sink.on_part_end());
          state_ = State::kBoundaryTail;
          header_bytes_ = 0;
        }
        break;
      }
      case State::kBoundaryTail: {
        const char c = data.front();
        if (c == '-' && header_bytes_ == 0) {
          state_ = State::kBoundaryDash;
          data.remove_prefix(1);
        } else if (is_ows(c)) {
          // Transport padding (RFC 2046 §5.1.1); counted so it cannot go on forever.
          const size_t n = std::min(data.find_first_not_of(" \t"), data.size());
          header_bytes_ += n;
          if (header_bytes_ > limits_.max_part_header_bytes) return bad("boundary line too long");
          data.remove_prefix(n);
        } else if (c == '\r') {
          state_ = State::kBoundaryCR;
          data.remove_prefix(1);
        } else if (c == '\n') {  // bare LF, tolerated as in headers
          data.remove_prefix(1);
          UP_TRY(start_part());
        } else {
          return bad("unexpected bytes after a multipart boundary");
        }
        break;
      }
      case State::kBoundaryDash:
        if (data.front() != '-') return bad("unexpected bytes after a multipart boundary");
        state_ = State::kEpilogue;
        break;
      case State::kBoundaryCR:
        if (data.front() != '\n') return bad("CR without LF after a multipart boundary");
        data.remove_prefix(1);
        UP_TRY(start_part());
        break;
      case State::kHeaders: {
        const size_t nl = data.find('\n');
        const size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
        header_bytes_ += take;
        if (header_bytes_ > limits_.max_part_header_bytes)
          return bad("part headers over " + std::to_string(limits_.max_part_header_bytes) +
                     " bytes");
        if (nl == std::string_view::npos) {
          pending_.append(data);
          data = {};
          break;
        }
        std::string_view line = data.substr(0, nl);
        if (!pending_.empty()) {
          pending_.append(line);
          line = pending_;
        }
        data.remove_prefix(take);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto st = header_line(line, sink);
        pending_.clear();  // after header_line: `line` may point into it
        if (!st) return st;
        break;
      }
      case State::kEpilogue: return ok();  // epilogue: ignored
      case State::kFailed: return fail(error_);
    }
  }
  return ok();
}

// Looks for delimiter_ in the kept partial match followed by `data`. Bytes that
// cannot be part of a delimiter go to the sink at once (nowhere in the
// preamble); a tail that may begin one is remembered as match_.
Result<MultipartParser::Scan> MultipartParser::scan(std::string_view data, MultipartSink* sink) {
  auto emit = [&](std::string_view bytes) -> Status {
    if (sink == nullptr || bytes.empty()) return ok();
    return sink->on_part_data(bytes);
  };
  const std::string_view delim = delimiter_;
  if (match_ > 0) {
    const size_t need = delim.size() - match_;
    const size_t n = std::min(need, data.size());
    if (data.substr(0, n) == delim.substr(match_, n)) {
      if (n == need) {
        match_ = skip_ = 0;
        return Scan{n, true};
      }
      match_ += n;
      return Scan{n, false};
    }
    // The kept bytes were content after all. Past index 0 they hold no '\r', so
    // no other delimiter starts inside them; the search restarts at data[0].
    UP_TRY(emit(delim.substr(skip_, match_ - skip_)));
    match_ = skip_ = 0;
  }
  const size_t hit = data.find(delim);
  if (hit != std::string_view::npos) {
    UP_TRY(emit(data.substr(0, hit)));
    return Scan{hit + delim.size(), true};
  }
  // Keep the longest tail that is a proper prefix of the delimiter.
  size_t cr = data.size() >= delim.size() ? data.size() - delim.size() + 1 : 0;
  while ((cr = data.find('\r', cr)) != std::string_view::npos) {
    const size_t len = data.size() - cr;
    if (data.substr(cr) == delim.substr(0, len)) {
      UP_TRY(emit(data.substr(0, cr)));
      match_ = len;
      return Scan{data.size(), false};
    }
    ++cr;
  }
  UP_TRY(emit(data));
  return Scan{data.size(), false};
}

Status MultipartParser::start_part() {
  if (++parts_ > limits_.max_parts)
    return bad("more than " + std::to_string(limits_.max_parts) + " multipart parts");
  part_.name.clear();
  part_.filename.clear();
  part_.has_filename = false;
  part_.content_type.clear();
  part_.headers.clear();
  pending_.clear();
  state_ = State::kHeaders;
  return ok();
}

Status MultipartParser::header_line(std::string_view line, MultipartSink& sink) {
  if (line.empty()) return end_headers(sink);
  for (char c : line)
    if (c == '\r' || c == '\0') return bad("control character in a part header");
  if (is_ows(line.front())) {
    // obs-fold (RFC 5322 folding): continues the previous header's value.
    if (part_.headers.empty()) return bad("part header starts with whitespace");
    auto& value = part_.headers.back().second;
    value += ' ';
    value += trim_ows(line);
    return ok();
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bad("part header without a colon");
  std::string name = to_lower_ascii(trim_ows(line.substr(0, colon)));
  if (name.empty()) return bad("part header with an empty name");
  part_.headers.emplace_back(std::move(name), std::string(trim_ows(line.substr(colon + 1))));
  return ok();
}

Status MultipartParser::end_headers(MultipartSink& sink) {
  const std::string* disposition = nullptr;
  for (const auto& [name, value] : part_.headers) {
    if (name == "content-disposition") {
      // Two dispositions could name two fields; refuse rather than pick one.
      if (disposition != nullptr) return bad("part with two Content-Disposition headers");
      disposition = &value;
    } else if (name == "content-type" && part_.content_type.empty()) {
      part_.content_type = value;
    }
  }
  if (disposition == nullptr) return bad("part without Content-Disposition");
  auto cd = parse_content_disposition(*disposition);
  if (!cd) return bad("bad part Content-Disposition: " + cd.error().message);
  // RFC 7578 wants type "form-data"; the type is not checked because only the
  // name matters and no client is known to send another.
  if (cd->name.empty()) return bad("part without a name");
  part_.name = std::move(cd->name);
  part_.filename = std::move(cd->filename);
  part_.has_filename = cd->has_filename;
  UP_TRY(sink.on_part_begin(part_));
  state_ = State::kBody;
  // A body may be absent, the blank line then doubling as the delimiter's CRLF
  // ("...\r\n\r\n--boundary"): pretend that CRLF was seen, as for the preamble.
  match_ = skip_ = 2;
  return ok();
}

}  // namespace up::http
