#include "query-service/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>

namespace stancewire::query {
namespace {

constexpr char kSep = '\x1f';
constexpr size_t kMacBytes = 16;
constexpr char kVersion = '2';

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(const std::string& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> FromBase64Url(const std::string& in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::char_traits<char>::find(kAlphabet, 64, c);
    if (!p) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

PageTokenCodec::PageTokenCodec(std::string key) : key_(std::move(key)) {
  if (key_.empty()) {
    key_.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(key_.size()));
  }
}

std::string PageTokenCodec::Digest(const std::string& filter_fingerprint) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(filter_fingerprint.data(), filter_fingerprint.size(), digest, &len, EVP_sha256(),
             nullptr);
  return std::string(reinterpret_cast<char*>(digest), kMacBytes);
}

std::string PageTokenCodec::Mac(const std::string& payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), kMacBytes);
}

std::string PageTokenCodec::Encode(const PageState& state,
                                   const std::string& filter_fingerprint) const {
  // version, published, offset, total, then the id length-prefixed (ids and filters may hold any
  // byte), then a digest of the filters.
  std::string payload =
      std::string(1, kVersion) + kSep + std::to_string(state.cursor.published_nanos) + kSep +
      std::to_string(state.offset) + kSep + std::to_string(state.total) + kSep +
      std::to_string(state.cursor.id.size()) + kSep + state.cursor.id + Digest(filter_fingerprint);
  return Base64Url(payload + Mac(payload));
}

std::optional<PageState> PageTokenCodec::Decode(const std::string& token,
                                                const std::string& filter_fingerprint,
                                                std::string* error) const {
  auto raw = FromBase64Url(token);
  if (!raw || raw->size() <= kMacBytes) {
    *error = "page_token is malformed (pass next_page_token exactly as received)";
    return std::nullopt;
  }
  std::string payload = raw->substr(0, raw->size() - kMacBytes);
  std::string mac = raw->substr(raw->size() - kMacBytes);
  std::string expected = Mac(payload);
  if (CRYPTO_memcmp(mac.data(), expected.data(), kMacBytes) != 0) {
    *error =
        "page_token is not one this service issued (signature does not match: forged, edited, or "
        "issued before a restart or by a replica with another --page-token-key)";
    return std::nullopt;
  }
  auto malformed = [&] {
    *error = "page_token is malformed (pass next_page_token exactly as received)";
    return std::nullopt;
  };
  if (payload.empty() || payload[0] != kVersion) {
    *error =
        "page_token is stale: it was issued by an older version of the service; repeat the "
        "request without page_token";
    return std::nullopt;
  }
  // Parse "V<sep>PUBLISHED<sep>OFFSET<sep>TOTAL<sep>IDLEN<sep>ID" followed by the filter digest.
  size_t seps[5];
  size_t from = 0;
  for (size_t& sep : seps) {
    sep = payload.find(kSep, from);
    if (sep == std::string::npos) return malformed();
    from = sep + 1;
  }
  if (seps[0] != 1) return malformed();
  PageState state;
  size_t id_len = 0;
  auto parse = [](const std::string& s, size_t from, size_t to, auto* value) {
    auto [ptr, ec] = std::from_chars(s.data() + from, s.data() + to, *value);
    return ec == std::errc() && ptr == s.data() + to && to > from;
  };
  if (!parse(payload, seps[0] + 1, seps[1], &state.cursor.published_nanos) ||
      !parse(payload, seps[1] + 1, seps[2], &state.offset) ||
      !parse(payload, seps[2] + 1, seps[3], &state.total) ||
      !parse(payload, seps[3] + 1, seps[4], &id_len)) {
    return malformed();
  }
  const size_t c = seps[4];
  const std::string digest = Digest(filter_fingerprint);
  if (payload.size() - (c + 1) != id_len + digest.size()) return malformed();
  state.cursor.id = payload.substr(c + 1, id_len);
  if (payload.compare(c + 1 + id_len, std::string::npos, digest) != 0) {
    *error = "page_token was issued for different filters; repeat the first request's filters";
    return std::nullopt;
  }
  return state;
}

}  // namespace stancewire::query
