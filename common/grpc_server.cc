#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "grpc/health/v1/health.pb.h"

namespace stancewire {

void PrepareServerBuilderPlugins() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Debian's gRPC registers no descriptor for grpc.health.v1, so reflection could list the health
  // service but not describe it (grpcurl then fails). Touching the compiled-in descriptor
  // registers it in the generated pool.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
}

namespace {

void ApplyCommonOptions(const ServerOptions& options, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  const int keepalive_ms =
      static_cast<int>(std::chrono::milliseconds(options.keepalive_time).count());
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(std::chrono::milliseconds(options.keepalive_timeout).count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients ping every keepalive_time; let them do so without being told "too many pings".
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             keepalive_ms / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

}  // namespace

std::unique_ptr<grpc::Server> StartServer(const ServerOptions& options,
                                          const std::vector<grpc::Service*>& services,
                                          int* bound_port) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  ApplyCommonOptions(options, builder);
  for (auto* s : services) builder.RegisterService(s);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::error("cannot listen on {}", options.listen);
    return nullptr;
  }
  if (bound_port) *bound_port = port;
  return server;
}

void SetServing(grpc::Server* server, bool serving) {
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(serving);
}

grpc::ChannelArguments ClientChannelArguments(const ServerOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(std::chrono::milliseconds(options.keepalive_time).count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(std::chrono::milliseconds(options.keepalive_timeout).count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return args;
}

}  // namespace stancewire
