#include "dialects/kintone/query.h"

#include <cctype>
#include <string>
#include <vector>

namespace up::dialects::kintone {
namespace {

struct Token {
  std::string text;  // keywords lower-cased; quotes removed from strings
  bool quoted = false;
};

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '$' || c == '_';
}

Result<std::vector<Token>> tokenize(std::string_view q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    const char c = q[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '"') {
      const size_t end = q.find('"', i + 1);
      if (end == std::string_view::npos)
        return fail(Errc::kInvalidArgument, "query: unterminated string");
      out.push_back({std::string(q.substr(i + 1, end - i - 1)), true});
      i = end + 1;
    } else if (c == '>' || c == '<' || c == '=' || c == '!') {
      std::string op(1, c);
      if (i + 1 < q.size() && q[i + 1] == '=') op += '=';
      out.push_back({op, false});
      i += op.size();
    } else if (c == '(' || c == ')') {
      out.push_back({std::string(1, c), false});
      ++i;
    } else if (is_word_char(c)) {
      size_t end = i;
      while (end < q.size() && is_word_char(q[end])) ++end;
      std::string word(q.substr(i, end - i));
      for (char& ch : word) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out.push_back({std::move(word), false});
      i = end;
    } else {
      return fail(Errc::kInvalidArgument, std::string("query: unexpected character '") + c + "'");
    }
  }
  return out;
}

Result<uint64_t> number(const Token& t, const char* what) {
  if (t.text.empty() || t.text.size() > 18)
    return fail(Errc::kInvalidArgument,
                std::string("query: ") + what + " must be a non-negative integer");
  uint64_t v = 0;
  for (char c : t.text) {
    if (c < '0' || c > '9')
      return fail(Errc::kInvalidArgument,
                  std::string("query: ") + what + " must be a non-negative integer");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Result<RecordQuerySpec> run() {
    RecordQuerySpec spec;
    // @kintone/rest-api-client wraps a caller's condition as "(cond) and $id > N".
    UP_TRY(condition(spec));
    bool seen_order = false, seen_limit = false, seen_offset = false;
    while (pos_ < t_.size()) {
      const Token& k = t_[pos_];
      if (!k.quoted && k.text == "order" && !seen_order) {
        seen_order = true;
        ++pos_;
        UP_TRY(expect("by"));
        UP_TRY(expect("$id"));
        if (at("asc")) spec.descending = false, ++pos_;
        else if (at("desc")) spec.descending = true, ++pos_;
      } else if (!k.quoted && k.text == "limit" && !seen_limit) {
        seen_limit = true;
        auto n = count_clause("limit", kMaxReadRecords);
        if (!n) return fail(n.error());
        spec.limit = *n;
      } else if (!k.quoted && k.text == "offset" && !seen_offset) {
        seen_offset = true;
        auto n = count_clause("offset", kMaxOffset);
        if (!n) return fail(n.error());
        spec.offset = *n;
      } else {
        return fail(Errc::kInvalidArgument, "query: unsupported near '" + k.text + "'");
      }
    }
    return spec;
  }

 private:
  bool at(std::string_view word) const {
    return pos_ < t_.size() && !t_[pos_].quoted && t_[pos_].text == word;
  }

  Status expect(std::string_view word) {
    if (!at(word))
      return fail(Errc::kInvalidArgument, "query: expected '" + std::string(word) + "'");
    ++pos_;
    return ok();
  }

  // The number of a `limit` or `offset` clause (pos_ at its keyword), at most `max`.
  Result<uint64_t> count_clause(const char* keyword, uint64_t max) {
    ++pos_;
    auto n = next_number(keyword);
    if (n && *n > max)
      return fail(Errc::kInvalidArgument,
                  "query: " + std::string(keyword) + " must be at most " + std::to_string(max));
    return n;
  }

  Result<uint64_t> next_number(const char* what) {
    if (pos_ >= t_.size())
      return fail(Errc::kInvalidArgument, std::string("query: missing ") + what);
    return number(t_[pos_++], what);
  }

  // [ "(" cond ")" "and" ] "$id" (">" | ">=") N, or nothing. Only a
  // parenthesised condition that is itself in the subset is accepted.
  Status condition(RecordQuerySpec& spec) {
    if (at("(")) {
      ++pos_;
      UP_TRY(id_comparison(spec));
      UP_TRY(expect(")"));
      if (!at("and")) return ok();
      ++pos_;
      return id_comparison(spec);
    }
    if (at("$id")) return id_comparison(spec);
    return ok();
  }

  Status id_comparison(RecordQuerySpec& spec) {
    UP_TRY(expect("$id"));
    if (pos_ >= t_.size() || t_[pos_].quoted || (t_[pos_].text != ">" && t_[pos_].text != ">="))
      return fail(Errc::kInvalidArgument, "query: only $id > N and $id >= N are supported");
    const bool inclusive = t_[pos_].text == ">=";
    ++pos_;
    auto n = next_number("$id");
    if (!n) return fail(n.error());
    uint64_t after = inclusive ? (*n == 0 ? 0 : *n - 1) : *n;
    if (after > spec.after_id) spec.after_id = after;  // "and" of two lower bounds
    return ok();
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
};

}  // namespace

Result<RecordQuerySpec> parse_query(std::string_view query) {
  auto tokens = tokenize(query);
  if (!tokens) return fail(tokens.error());
  return Parser(std::move(*tokens)).run();
}

}  // namespace up::dialects::kintone
