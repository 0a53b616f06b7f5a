#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace stancewire {

// What every stancewire gRPC server carries besides its own services: the standard health
// service, server reflection (so grpcurl needs no proto files), keepalive and message limits.
struct ServerOptions {
  std::string listen;  // HOST:PORT
  // nullptr: plaintext. See common/security.h for TLS and mutual TLS.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  int max_message_bytes = 8 * 1024 * 1024;
  int max_concurrent_streams = 100;  // per connection
  std::chrono::seconds keepalive_time{30};
  std::chrono::seconds keepalive_timeout{10};
  // Reaping: a connection without calls for max_connection_idle is closed; every connection is
  // asked to go away after max_connection_age and closed max_connection_age_grace later, ending
  // calls still stuck on it (e.g. a client that stopped reading). A connection that has not
  // finished its HTTP/2 (and TLS) handshake within handshake_timeout is closed.
  std::chrono::seconds max_connection_idle{300};
  std::chrono::seconds max_connection_age{3600};
  std::chrono::seconds max_connection_age_grace{300};
  std::chrono::seconds handshake_timeout{20};
  // Server reflection (grpcurl's discovery); off for the health-only port.
  bool reflection = true;
};

// Registers reflection and the health service's descriptor, turns off abseil's mutex deadlock
// detection for the process (see grpc_server.cc) and raises the descriptor limit with the
// connection guard (common/fd_guard.h). Call once before building servers.
void PrepareServerBuilderPlugins();

// Builds and starts a server with `services` (sync or callback) on options.listen. Returns nullptr
// (and logs why) when the address cannot be bound. `bound_port` receives the actual port (useful
// with :0).
std::unique_ptr<grpc::Server> StartServer(const ServerOptions& options,
                                          const std::vector<grpc::Service*>& services,
                                          int* bound_port);

// Marks every service on the server (and the overall "" service) SERVING or NOT_SERVING.
void SetServing(grpc::Server* server, bool serving);

// Starts a plaintext server with nothing but the health service, for probes that cannot speak
// TLS (Kubernetes' gRPC probes). Its status follows SetServing on it.
std::unique_ptr<grpc::Server> StartHealthServer(const std::string& listen);

// Channel arguments for clients talking to stancewire servers: keepalive consistent with the
// servers' policy, message limit.
grpc::ChannelArguments ClientChannelArguments(const ServerOptions& options);

}  // namespace stancewire
