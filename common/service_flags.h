// Flags both services take, registered once so that names, environment variables, defaults and
// help text cannot drift apart. Every flag has an environment variable for Kubernetes.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/service_host.h"

namespace stancewire {

struct CommonServiceFlags {
  std::string listen;
  std::string health_listen;  // extra plaintext port serving only grpc.health.v1
  std::string data_dir;
  std::vector<std::string> actor_files;
  std::string log_level = "info";
  int shutdown_grace_seconds = 10;
  int max_message_bytes = 8 * 1024 * 1024;
  int max_concurrent_streams = 100;
  int max_connection_idle_seconds = 300;
  int max_connection_age_seconds = 3600;
  int max_connection_age_grace_seconds = 300;
  std::string tls_cert;
  std::string tls_key;
  std::string tokens;
  unsigned tls_refresh_seconds = 10;
};

// The service host these flags describe, for the service `name`. Only the main port's TLS comes
// from the flags here; a service adds its own ports, client TLS and mutual TLS.
inline ServiceHostOptions HostOptionsFromFlags(const std::string& name,
                                               const CommonServiceFlags& f) {
  ServiceHostOptions options;
  options.name = name;
  options.server.listen = f.listen;
  options.server.max_message_bytes = f.max_message_bytes;
  options.server.max_concurrent_streams = f.max_concurrent_streams;
  options.server.max_connection_idle = std::chrono::seconds(f.max_connection_idle_seconds);
  options.server.max_connection_age = std::chrono::seconds(f.max_connection_age_seconds);
  options.server.max_connection_age_grace =
      std::chrono::seconds(f.max_connection_age_grace_seconds);
  options.tls.files = TlsFiles{f.tls_cert, f.tls_key, "", f.tls_refresh_seconds};
  options.tokens = f.tokens;
  options.health_listen = f.health_listen;
  options.shutdown_grace = std::chrono::seconds(f.shutdown_grace_seconds);
  return options;
}

// Registers the shared flags on a service's command line. Call it before the service's own:
// from here on every flag's --help line shows its default (the loopback --listen included).
inline void AddCommonServiceFlags(CLI::App& app, CommonServiceFlags* f) {
  app.option_defaults()->always_capture_default();
  app.add_option("--listen", f->listen, "HOST:PORT for the service, health and reflection")
      ->envname("STANCEWIRE_LISTEN");
  app.add_option("--health-listen", f->health_listen,
                 "extra plaintext HOST:PORT serving only health, for probes when --listen is TLS")
      ->envname("STANCEWIRE_HEALTH_LISTEN");
  app.add_option("--data-dir", f->data_dir, "folder of the knowledge files (actors/, ...)")
      ->envname("STANCEWIRE_DATA_DIR");
  app.add_option("--actors", f->actor_files, "extra actor dictionary file (repeatable)")
      ->envname("STANCEWIRE_ACTORS")
      ->delimiter(',');
  app.add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->envname("STANCEWIRE_LOG_LEVEL");
  app.add_option("--shutdown-grace", f->shutdown_grace_seconds,
                 "seconds in-flight work gets to finish on SIGTERM")
      ->envname("STANCEWIRE_SHUTDOWN_GRACE")
      ->check(CLI::Range(0, 3600));
  app.add_option("--max-message-bytes", f->max_message_bytes, "largest gRPC message accepted")
      ->envname("STANCEWIRE_MAX_MESSAGE_BYTES")
      ->check(CLI::Range(1024, 256 * 1024 * 1024));
  app.add_option("--max-concurrent-streams", f->max_concurrent_streams,
                 "concurrent calls and streams per client connection")
      ->envname("STANCEWIRE_MAX_CONCURRENT_STREAMS")
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-connection-idle", f->max_connection_idle_seconds,
                 "seconds a connection without calls is kept open")
      ->envname("STANCEWIRE_MAX_CONNECTION_IDLE")
      ->check(CLI::Range(1, 86400 * 365));
  app.add_option("--max-connection-age", f->max_connection_age_seconds,
                 "seconds after which a connection is asked to go away (clients reconnect)")
      ->envname("STANCEWIRE_MAX_CONNECTION_AGE")
      ->check(CLI::Range(1, 86400 * 365));
  app.add_option("--max-connection-age-grace", f->max_connection_age_grace_seconds,
                 "seconds calls still running get after that before the connection is closed")
      ->envname("STANCEWIRE_MAX_CONNECTION_AGE_GRACE")
      ->check(CLI::Range(1, 86400 * 365));
  app.add_option("--tls-cert", f->tls_cert, "PEM certificate chain: serve TLS on --listen")
      ->envname("STANCEWIRE_TLS_CERT");
  app.add_option("--tls-key", f->tls_key, "PEM private key for --tls-cert")
      ->envname("STANCEWIRE_TLS_KEY");
  app.add_option("--tls-refresh-seconds", f->tls_refresh_seconds,
                 "how often certificate, key and CA files are re-read (rotation without restart)")
      ->envname("STANCEWIRE_TLS_REFRESH_SECONDS")
      ->check(CLI::Range(1, 86400));
  app.add_option("--tokens", f->tokens,
                 "file of 'TOKEN ROLE[,ROLE...]' lines; callers must send one (none: no token)")
      ->envname("STANCEWIRE_TOKENS");
}

}  // namespace stancewire
