// The store behind query-service: stances upserted by id, read back newest first with keyset
// paging, plus the aggregations the query API needs. SQLite is the embedded default; other
// backends (PostgreSQL) implement the same interface: everything here is plain structs, and the
// filter (stance_filter.h) carries its own in-memory meaning, which every backend agrees with.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query-service/store/stance_filter.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::query {

// Position in the (published, id) order.
struct StanceCursor {
  int64_t published_nanos = 0;
  std::string id;
};

struct ListOptions {
  int limit = 50;
  std::optional<StanceCursor> after;  // strictly after this cursor in the chosen order
  bool oldest_first = false;          // default: newest first, (published, id) descending
  bool count_total = false;           // fill StancePage::total
  // Fill StancePage::serialized with each stance's stored wire form instead of decoding it into
  // StancePage::stances: query-service splices these bytes into its response unchanged, which
  // saves a decode and an encode of every stance on the hot path.
  bool serialized = false;
};

struct StancePage {
  std::vector<v1::Stance> stances;
  std::vector<std::string> serialized;  // instead of `stances`, with ListOptions::serialized
  std::optional<StanceCursor> next;     // set when more stances follow
  std::optional<int64_t> total;         // all stances matching the filter, when asked for
};

struct ActorRef {
  std::string id;
  std::string name;
  std::string kind;
};

struct ActorStats {
  ActorRef actor;
  int64_t stance_count = 0;
  std::vector<std::pair<v1::Position, int64_t>> position_counts;  // in enum order, counts > 0
  v1::Stance latest;
};

struct ConditionStats {
  std::string kind;
  int64_t stance_count = 0;
  std::vector<std::pair<ActorRef, int64_t>> actors;  // most stances first, then id
};

// One corroborated claim: stances sharing (actor, topic, position, condition kinds).
struct ClaimRecord {
  ActorRef actor;
  std::string topic;
  v1::Position position = v1::POSITION_UNSPECIFIED;
  std::vector<std::string> condition_kinds;  // sorted, distinct
  int64_t count = 0;                         // stances reporting it
  std::vector<std::string> outlets;          // distinct, sorted, non-empty
  int64_t first_seen_nanos = 0;
  int64_t last_seen_nanos = 0;
  std::vector<std::string> item_ids;  // newest first, at most kMaxClaimItemIds
  v1::Stance latest;
};
inline constexpr int kMaxClaimItemIds = 100;

struct ClaimOptions {
  int limit = 50;
  int64_t offset = 0;
  int64_t min_count = 1;
  bool count_total = false;
};

// Ordered by count, distinct outlets and last seen, all descending, then by key.
struct ClaimPage {
  std::vector<ClaimRecord> claims;
  bool more = false;
  std::optional<int64_t> total;
};

// What Upsert did: indexes (into the batch) of the stances that were new or differ from the
// stored version. Redelivered, unchanged stances are not listed.
struct UpsertResult {
  std::vector<size_t> changed;
};

class StanceStore {
 public:
  virtual ~StanceStore() = default;

  // Inserts or replaces each stance by id, all in one transaction: applying the same batch again
  // changes nothing, so redelivery never duplicates. `wire` (optional) holds each stance's
  // serialized form as it arrived (stances[i] was parsed from (*wire)[i]): a store that keeps
  // serialized bodies stores those bytes instead of encoding the stance again.
  virtual grpc::Status Upsert(const std::vector<v1::Stance>& stances,
                              UpsertResult* result = nullptr,
                              const std::vector<std::string_view>* wire = nullptr) = 0;

  // Up to options.limit stances matching `filter`, in the order asked for.
  virtual grpc::Status List(const StanceFilter& filter, const ListOptions& options,
                            StancePage* page) = 0;

  // Shorthand: newest first, after `after` when given.
  grpc::Status List(const StanceFilter& filter, int limit, const std::optional<StanceCursor>& after,
                    StancePage* page) {
    ListOptions options;
    options.limit = limit;
    options.after = after;
    return List(filter, options, page);
  }

  virtual grpc::Status Count(int64_t* count) = 0;

  // Every actor with stances on a topic matching `topic` (empty: any), most stances first, then
  // by id. Topic words select topics by their key or any label they were reported under.
  virtual grpc::Status ListActors(const TopicFilter& topic, std::vector<ActorStats>* actors) = 0;

  // Every condition kind set on a topic matching `topic` (empty: any), most stances first.
  virtual grpc::Status ListConditions(const TopicFilter& topic,
                                      std::vector<ConditionStats>* conditions) = 0;

  // ListActors and ListConditions over the stances matching `filter`, with the same order and
  // meaning. A filter that sets only a topic is answered by the two calls above (the counters);
  // any other field (speaker, min_confidence, the time window) folds the stances List returns for
  // `filter`, so the same WHERE builder and indexes select them and every backend agrees with
  // Matches(). Actors are then named as in their newest matching stance.
  grpc::Status ListActorsMatching(const StanceFilter& filter, std::vector<ActorStats>* actors);
  grpc::Status ListConditionsMatching(const StanceFilter& filter,
                                      std::vector<ConditionStats>* conditions);

  // Claims among the stances matching `filter`.
  virtual grpc::Status ListClaims(const StanceFilter& filter, const ClaimOptions& options,
                                  ClaimPage* page) = 0;

  // The change feed: stances stored through other store objects over the same database (other
  // replicas), as they commit; writes through this object are not reported (their writer
  // publishes them). `on_missed` says that the feed was interrupted and stances may have gone
  // unreported. Both are called on a thread of the store's, until StopChangeFeed. A backend whose
  // database has no other writers (SQLite: one query-service per file) reports nothing. False
  // with *error when the feed cannot start.
  using StoredCallback = std::function<void(const std::vector<v1::Stance>&)>;
  virtual bool StartChangeFeed(StoredCallback /*on_stored*/, std::function<void()> /*on_missed*/,
                               std::string* /*error*/) {
    return true;
  }
  // Stops the feed and waits for its callbacks to return (also done when the store is destroyed).
  virtual void StopChangeFeed() {}
};

// Opens the store named by a URI: "sqlite:PATH" (the folder is created if missing), or
// "postgres://USER@HOST:PORT/DB" / "postgresql://..." (handed to libpq unchanged).
// Returns nullptr with the reason in *error.
std::unique_ptr<StanceStore> OpenStanceStore(const std::string& uri, std::string* error);

// Nanoseconds since the epoch, saturating at INT64_MIN / INT64_MAX outside 1677..2262 instead
// of overflowing. Ingest refuses items published outside 1678..2262 (common/timestamps.h), so
// stored times are exact and a saturated filter bound still compares correctly with them.
int64_t TimestampNanos(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp NanosTimestamp(int64_t nanos);

// The sorted, distinct condition kinds of a stance.
std::vector<std::string> ConditionKinds(const v1::Stance& stance);

// Condition kinds as the stores keep them in one column: "CLEAR_MANDATE,UN_MANDATE".
std::string JoinKinds(const std::vector<std::string>& kinds);
std::vector<std::string> SplitKinds(std::string_view joined);

// Filter text split on white space.
std::vector<std::string> SplitWords(const std::string& text);

// ASCII lower-casing, as SQLite's NOCASE and LIKE do.
std::string AsciiLower(std::string s);

}  // namespace stancewire::query
