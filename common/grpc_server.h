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
  int max_message_bytes = 8 * 1024 * 1024;
  std::chrono::seconds keepalive_time{30};
  std::chrono::seconds keepalive_timeout{10};
};

// Registers reflection and the health service's descriptor. Call once before building servers.
void PrepareServerBuilderPlugins();

// Builds and starts a server with `services` (sync or callback) on options.listen. Returns nullptr (and logs why)
// when the address cannot be bound. `bound_port` receives the actual port (useful with :0).
std::unique_ptr<grpc::Server> StartServer(const ServerOptions& options,
                                          const std::vector<grpc::Service*>& services,
                                          int* bound_port);

// Marks every service on the server (and the overall "" service) SERVING or NOT_SERVING.
void SetServing(grpc::Server* server, bool serving);

// Channel arguments for clients talking to stancewire servers: keepalive consistent with the
// servers' policy, message limit.
grpc::ChannelArguments ClientChannelArguments(const ServerOptions& options);

}  // namespace stancewire
