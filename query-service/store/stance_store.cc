// The backend-neutral helpers of stance_store.h: time conversion, condition kinds and how a
// condition filter reads.
#include "query-service/store/stance_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "query-service/store/store_error.h"

namespace stancewire::query {
std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string JoinKinds(const std::vector<std::string>& kinds) {
  std::string out;
  for (const auto& k : kinds) {
    if (!out.empty()) out += ',';
    out += k;
  }
  return out;
}

std::vector<std::string> SplitKinds(std::string_view joined) {
  std::vector<std::string> out;
  while (!joined.empty()) {
    size_t comma = joined.find(',');
    out.emplace_back(joined.substr(0, comma));
    if (comma == std::string_view::npos) break;
    joined.remove_prefix(comma + 1);
  }
  return out;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

google::protobuf::Timestamp NanosTimestamp(int64_t nanos) {
  google::protobuf::Timestamp ts;
  int64_t seconds = nanos / 1000000000LL;
  int64_t rest = nanos % 1000000000LL;
  if (rest < 0) {
    rest += 1000000000LL;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rest));
  return ts;
}

std::vector<std::string> ConditionKinds(const v1::Stance& stance) {
  std::vector<std::string> kinds;
  for (const auto& c : stance.conditions()) {
    if (!c.kind().empty()) kinds.push_back(c.kind());
  }
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  return kinds;
}

int64_t TimestampNanos(const google::protobuf::Timestamp& ts) {
  int64_t nanos = 0;
  if (__builtin_mul_overflow(ts.seconds(), int64_t{1000000000}, &nanos) ||
      __builtin_add_overflow(nanos, int64_t{ts.nanos()}, &nanos)) {
    return ts.seconds() < 0 ? INT64_MIN : INT64_MAX;
  }
  return nanos;
}

grpc::Status StoreInternal(const std::string& what, const std::string& detail) {
  spdlog::error("store: {} failed: {}", what, detail);
  return grpc::Status(grpc::StatusCode::INTERNAL,
                      "store: " + what + " failed (the reason is in query-service's log)");
}

}  // namespace stancewire::query
