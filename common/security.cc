#include "common/security.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace stancewire {
namespace {

using grpc::experimental::FileWatcherCertificateProvider;

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string CheckCertificates(const std::string& path, const std::string& what, X509** first) {
  bool ok = false;
  std::string pem = ReadFile(path, &ok);
  if (!ok) return what + " file " + path + " cannot be read";
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (count++ == 0 && first) {
      *first = cert;
    } else {
      X509_free(cert);
    }
  }
  if (count == 0) return what + " file " + path + " holds no PEM certificate";
  return "";
}

constexpr const char* kKnownRoles = "reader, writer, delivery";

// "reader", "writer,delivery", ...: only known roles, comma-separated, none empty.
bool IsRoleList(const std::string& text) {
  if (text.empty()) return false;
  std::istringstream split(text);
  std::string role;
  size_t consumed = 0;
  while (std::getline(split, role, ',')) {
    if (role != "reader" && role != "writer" && role != "delivery") return false;
    consumed += role.size() + 1;
  }
  return consumed == text.size() + 1;  // no trailing comma
}

}  // namespace

std::string CheckTlsFiles(const TlsFiles& files, bool need_identity) {
  if (need_identity || files.enabled()) {
    if (files.cert.empty() || files.key.empty()) {
      return "TLS needs both a certificate and a key file";
    }
    X509* cert = nullptr;
    if (std::string e = CheckCertificates(files.cert, "certificate", &cert); !e.empty()) return e;
    bool ok = false;
    std::string pem = ReadFile(files.key, &ok);
    if (!ok) {
      X509_free(cert);
      return "key file " + files.key + " cannot be read";
    }
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    std::string error;
    if (!key) {
      error = "key file " + files.key + " holds no PEM private key";
    } else if (X509_check_private_key(cert, key) != 1) {
      error = "key file " + files.key + " does not match certificate " + files.cert;
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    if (!error.empty()) return error;
  }
  if (!files.ca.empty()) return CheckCertificates(files.ca, "CA", nullptr);
  return "";
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  auto provider = std::make_shared<FileWatcherCertificateProvider>(files.key, files.cert, files.ca,
                                                                   files.refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.ca.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const TlsFiles& files) {
  if (files.ca.empty()) return grpc::InsecureChannelCredentials();
  auto provider = std::make_shared<FileWatcherCertificateProvider>(files.key, files.cert, files.ca,
                                                                   files.refresh_seconds);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (files.enabled()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

std::vector<std::string> PeerIdentities(const grpc::ServerContextBase& context) {
  std::vector<std::string> out;
  auto auth = context.auth_context();
  if (!auth) return out;
  for (const char* property : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
    for (const auto& value : auth->FindPropertyValues(property)) {
      out.emplace_back(value.data(), value.size());
    }
  }
  return out;
}

std::vector<std::string> PeerSubjectAltNames(const grpc::ServerContextBase& context) {
  std::vector<std::string> out;
  auto auth = context.auth_context();
  if (!auth) return out;
  for (const auto& value : auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    out.emplace_back(value.data(), value.size());
  }
  return out;
}

bool ReadTokenFile(const std::string& path, std::string* token, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot be read";
    return false;
  }
  std::string line;
  std::getline(in, line);
  const size_t begin = line.find_first_not_of(" \t\r\n");
  const size_t end = line.find_last_not_of(" \t\r\n");
  *token = begin == std::string::npos ? "" : line.substr(begin, end - begin + 1);
  if (token->empty()) {
    *error = path + ": holds no token on its first line";
    return false;
  }
  if (token->find_first_of(" \t") != std::string::npos) {
    token->clear();
    *error = path + ": the first line must hold the token alone";
    return false;
  }
  return true;
}

std::unique_ptr<TokenAuthorizer> TokenAuthorizer::Load(const std::string& path,
                                                       std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot be read";
    return nullptr;
  }
  auto authorizer = std::make_unique<TokenAuthorizer>();
  authorizer->enabled_ = true;
  std::string line;
  std::unordered_map<std::string, int> seen;  // token -> line it was first given on
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    Entry entry;
    std::string roles, extra;
    if (!(fields >> entry.token) || entry.token[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    // The messages below never quote a field: on a malformed line any field may be the token.
    if (IsRoleList(entry.token)) {
      *error = where + "starts with a role: write TOKEN ROLE[,ROLE...], token first";
      return nullptr;
    }
    if (!(fields >> roles)) {
      *error = where + "expected TOKEN ROLE[,ROLE...], found no role";
      return nullptr;
    }
    if (fields >> extra) {
      *error = where + "unexpected text after the roles";
      return nullptr;
    }
    if (!IsRoleList(roles)) {
      *error = where + "unknown role (known: " + kKnownRoles + ")";
      return nullptr;
    }
    std::istringstream split(roles);
    for (std::string role; std::getline(split, role, ',');) entry.roles.push_back(role);
    if (entry.token.size() < 16) {
      *error = where + "token is shorter than 16 characters";
      return nullptr;
    }
    // A repeated token would hold the roles of whichever line matched last: refuse it.
    if (auto [it, fresh] = seen.emplace(entry.token, number); !fresh) {
      *error = where + "token repeats the one on line " + std::to_string(it->second);
      return nullptr;
    }
    authorizer->entries_.push_back(std::move(entry));
  }
  if (authorizer->entries_.empty()) {
    *error = path + ": holds no token";
    return nullptr;
  }
  return authorizer;
}

bool TokenAuthorizer::LoadOptional(const std::string& path, std::unique_ptr<TokenAuthorizer>* out,
                                   std::string* error) {
  out->reset();
  if (path.empty()) return true;
  *out = Load(path, error);
  return *out != nullptr;
}

grpc::Status TokenAuthorizer::Authorize(const grpc::ServerContextBase& context,
                                        std::string_view role) const {
  if (!enabled_) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing credentials: send metadata 'authorization: Bearer TOKEN'");
  }
  // Proxies and servers disagree on which of several headers counts: accept exactly one.
  if (metadata.count("authorization") > 1) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "several authorization metadata entries: send exactly one");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata must be 'Bearer TOKEN'");
  }
  std::string_view token = value.substr(kBearer.size());
  const Entry* match = nullptr;
  // Compare against every entry, always in full, so timing does not reveal a near miss.
  for (const auto& entry : entries_) {
    const bool same = entry.token.size() == token.size() &&
                      CRYPTO_memcmp(entry.token.data(), token.data(), token.size()) == 0;
    if (same) match = &entry;
  }
  if (!match) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
  for (const auto& r : match->roles) {
    if (r == role) return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "the token lacks the '" + std::string(role) + "' role");
}

}  // namespace stancewire
