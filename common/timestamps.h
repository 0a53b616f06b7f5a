// Timestamps at the entry points (Ingest, query filters, the CLI). Any google.protobuf.Timestamp
// must lie in protobuf's own range (0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z, nanos
// 0..999999999): outside it the JSON mapping cannot print it. A news item's `published` must also
// lie in the range stores keep as int64 nanoseconds since the epoch (1677..2262), with a margin:
// 1678-01-01T00:00:00Z inclusive to 2262-01-01T00:00:00Z exclusive. Header-only, so that the
// extraction library can use it without linking the services' common code.
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <cstdint>
#include <string>

namespace stancewire {

inline constexpr int64_t kMinPublishedSeconds = -9214560000;  // 1678-01-01T00:00:00Z
inline constexpr int64_t kEndPublishedSeconds = 9214646400;   // 2262-01-01T00:00:00Z, exclusive

// "" when `ts` is a valid protobuf Timestamp, else what is wrong, naming `field`.
inline std::string TimestampProblem(const std::string& field,
                                    const google::protobuf::Timestamp& ts) {
  using google::protobuf::util::TimeUtil;
  if (ts.seconds() >= TimeUtil::kTimestampMinSeconds &&
      ts.seconds() <= TimeUtil::kTimestampMaxSeconds && ts.nanos() >= 0 &&
      ts.nanos() <= 999999999) {
    return "";
  }
  return field + " is not a valid timestamp (seconds " + std::to_string(ts.seconds()) + ", nanos " +
         std::to_string(ts.nanos()) +
         "): use 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z with nanos 0..999999999";
}

// "" when `ts` is a publication time stancewire can store, else what is wrong, naming `field`.
inline std::string PublishedProblem(const std::string& field,
                                    const google::protobuf::Timestamp& ts) {
  if (std::string problem = TimestampProblem(field, ts); !problem.empty()) return problem;
  if (ts.seconds() >= kMinPublishedSeconds && ts.seconds() < kEndPublishedSeconds) return "";
  return field + " " + google::protobuf::util::TimeUtil::ToString(ts) +
         " is outside 1678-01-01T00:00:00Z..2262-01-01T00:00:00Z, the publication times "
         "stancewire stores";
}

// Moves `ts` to the nearest publication time PublishedProblem accepts (nanos into 0..999999999,
// seconds into 1678..2261).
inline void ClampPublished(google::protobuf::Timestamp* ts) {
  if (ts->nanos() < 0) ts->set_nanos(0);
  if (ts->nanos() > 999999999) ts->set_nanos(999999999);
  if (ts->seconds() < kMinPublishedSeconds) {
    ts->set_seconds(kMinPublishedSeconds);
    ts->set_nanos(0);
  } else if (ts->seconds() >= kEndPublishedSeconds) {
    ts->set_seconds(kEndPublishedSeconds - 1);
    ts->set_nanos(999999999);
  }
}

}  // namespace stancewire
