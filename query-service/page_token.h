// Opaque, tamper-evident page tokens: the cursor of the last stance returned plus a fingerprint of
// the filters, signed with HMAC-SHA256 so that a forged or edited token is refused.
#pragma once

#include <optional>
#include <string>

#include "query-service/stance_store.h"

namespace stancewire::query {

class PageTokenCodec {
 public:
  // `key` signs tokens; replicas that share a database should share a key. Empty: a random key,
  // so tokens do not survive a restart.
  explicit PageTokenCodec(std::string key);

  std::string Encode(const StanceCursor& cursor, const std::string& filter_fingerprint) const;
  // Returns the cursor, or nullopt with the reason in *error ("malformed", "signature does not
  // match", "issued for different filters").
  std::optional<StanceCursor> Decode(const std::string& token,
                                     const std::string& filter_fingerprint,
                                     std::string* error) const;

 private:
  static std::string Digest(const std::string& filter_fingerprint);
  std::string Mac(const std::string& payload) const;
  std::string key_;
};

}  // namespace stancewire::query
