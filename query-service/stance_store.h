// The store behind query-service: stances upserted by id, read back newest first with keyset
// paging. SQLite is the embedded default; other backends implement the same interface.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stancewire/v1/stance.pb.h"

namespace stancewire::query {

// Position in the newest-first order: (published, id), both descending.
struct StanceCursor {
  int64_t published_nanos = 0;
  std::string id;
};

struct StanceFilter {
  // Match stances whose actor id is one of these; empty means the actor filter is off unless
  // actor_text is set.
  std::vector<std::string> actor_ids;
  // Fallback for names the actor dictionary does not know: matches actor id, name or mention,
  // case-insensitively.
  std::string actor_text;
  // A condition kind (compared upper-cased) or words that must all appear in a condition's text.
  std::string condition;
};

struct StancePage {
  std::vector<v1::Stance> stances;
  std::optional<StanceCursor> next;  // set when more stances follow
};

class StanceStore {
 public:
  virtual ~StanceStore() = default;

  // Inserts or replaces each stance by id, all in one transaction: applying the same batch again
  // changes nothing, so redelivery never duplicates.
  virtual grpc::Status Upsert(const std::vector<v1::Stance>& stances) = 0;

  // Up to `limit` stances matching `filter`, newest first, after `after` when given.
  virtual grpc::Status List(const StanceFilter& filter, int limit,
                            const std::optional<StanceCursor>& after, StancePage* page) = 0;

  virtual grpc::Status Count(int64_t* count) = 0;
};

// Opens the store named by a URI: "sqlite:PATH" (the folder is created if missing).
// Returns nullptr with the reason in *error.
std::unique_ptr<StanceStore> OpenStanceStore(const std::string& uri, std::string* error);

int64_t TimestampNanos(const google::protobuf::Timestamp& ts);

}  // namespace stancewire::query
