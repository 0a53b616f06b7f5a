// Opaque, tamper-evident page tokens: where the next page starts (the cursor of the last stance
// returned, or an offset into an aggregate), the total counted on the first page, and a
// fingerprint of the call and its filters, signed with HMAC-SHA256 so that a forged or edited
// token is refused.
#pragma once

#include <optional>
#include <string>

#include "query-service/store/stance_store.h"

namespace stancewire::query {

struct PageState {
  StanceCursor cursor;  // keyset paging (ListStances, GetActorTimeline)
  int64_t offset = 0;   // offset paging over aggregates (ListActors, ListClaims)
  int64_t total = -1;   // total_size counted on the first page; -1: not counted
};

class PageTokenCodec {
 public:
  // `key` signs tokens; replicas that share a database should share a key. Empty: a random key,
  // so tokens do not survive a restart.
  explicit PageTokenCodec(std::string key);

  std::string Encode(const PageState& state, const std::string& filter_fingerprint) const;
  std::string Encode(const StanceCursor& cursor, const std::string& filter_fingerprint) const {
    return Encode(PageState{cursor}, filter_fingerprint);
  }
  // Returns the state, or nullopt with the reason in *error ("malformed", "signature does not
  // match", "issued for different filters", "older version").
  std::optional<PageState> Decode(const std::string& token, const std::string& filter_fingerprint,
                                  std::string* error) const;

 private:
  static std::string Digest(const std::string& filter_fingerprint);
  std::string Mac(const std::string& payload) const;
  std::string key_;
};

}  // namespace stancewire::query
