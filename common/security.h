// Transport security and caller authorisation shared by both services: TLS and mutual TLS from
// PEM files that are re-read while serving (certificate rotation without a restart), and bearer
// tokens with roles.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace stancewire {

struct TlsFiles {
  std::string cert;               // PEM certificate chain presented to the peer
  std::string key;                // PEM private key for `cert`
  std::string ca;                 // PEM CA bundle the peer's certificate must chain to
  unsigned refresh_seconds = 10;  // how often the files are re-read
  bool enabled() const { return !cert.empty() || !key.empty(); }
};

// Checks that the files exist and hold what they should (a certificate, a key that matches it,
// CA certificates), so that a typo fails at start with a clear message instead of at the first
// handshake. Returns "" when fine.
std::string CheckTlsFiles(const TlsFiles& files, bool need_identity);

// TLS when files.cert/key are set, plaintext otherwise. With files.ca set, clients must present a
// certificate that chains to it (mutual TLS).
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files);

// TLS to a server whose certificate chains to files.ca, presenting files.cert/key when set;
// plaintext when files.ca is empty.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files);

// The client's certificate identities (subject alternative names and common name) as gRPC sees
// them; empty over plaintext.
std::vector<std::string> PeerIdentities(const grpc::ServerContextBase& context);

// The client's verified certificate subject alternative names only: what an allow-list must
// match, since a CN says nothing once a certificate has SANs. Empty over plaintext.
std::vector<std::string> PeerSubjectAltNames(const grpc::ServerContextBase& context);

// The first line of `path`, without surrounding whitespace: a bearer token a client sends, kept
// out of the command line (and so out of /proc/PID/cmdline). False with the problem in *error;
// the messages name the file, never its content.
bool ReadTokenFile(const std::string& path, std::string* token, std::string* error);

// Bearer tokens with roles, from a file of `TOKEN ROLE[,ROLE...]` lines ('#' comments). With no
// file every caller is allowed; roles: "writer" (Ingest), "reader" (queries) and "delivery"
// (query-service's delivery stream, which writes to the store directly). A token is refused
// when it appears twice, and a line that starts with a role (ROLE TOKEN) is refused without
// quoting it.
class TokenAuthorizer {
 public:
  // Allows everyone.
  TokenAuthorizer() = default;
  // nullptr with "FILE:LINE: problem" in *error.
  static std::unique_ptr<TokenAuthorizer> Load(const std::string& path, std::string* error);
  // For a --tokens flag: no path, no authorizer (*out stays null, every caller allowed). False
  // with the problem in *error when the file is bad.
  static bool LoadOptional(const std::string& path, std::unique_ptr<TokenAuthorizer>* out,
                           std::string* error);

  // OK; UNAUTHENTICATED when the `authorization: Bearer TOKEN` metadata is missing, sent more
  // than once or names no known token; PERMISSION_DENIED when the token lacks `role`. Tokens are
  // compared in constant time and never appear in messages or logs.
  grpc::Status Authorize(const grpc::ServerContextBase& context, std::string_view role) const;

  bool enabled() const { return enabled_; }

 private:
  struct Entry {
    std::string token;
    std::vector<std::string> roles;
  };
  bool enabled_ = false;
  std::vector<Entry> entries_;
};

}  // namespace stancewire
