#include "common/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "common/fd_guard.h"
#include "grpc/health/v1/health.pb.h"

namespace stancewire {

void PrepareServerBuilderPlugins() {
  // Debian builds abseil without NDEBUG, so every absl::Mutex (gRPC locks dozens per call) records
  // lock order in a global graph to detect deadlocks. That is a debugging aid; it serialises all
  // threads on one lock and costs measurable time per call (docs/query-api.md, Speed).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before any listener exists: a listener that once runs out of descriptors never accepts again.
  ConfigureFdLimits();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Debian's gRPC registers no descriptor for grpc.health.v1, so reflection could list the health
  // service but not describe it (grpcurl then fails). Touching the compiled-in descriptor
  // registers it in the generated pool.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
}

namespace {

// PrepareServerBuilderPlugins registers reflection for every ServerBuilder; this option takes it
// out of one builder again (options may edit the plugin list before the server is built). gRPC
// builds no server without a polled queue, and one whose only service is the default health
// service (added later, at start) has none unless a plugin asks for the synchronous server's
// queues, as reflection did: the placeholder does just that and serves nothing.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    for (auto& p : *plugins) {
      if (dynamic_cast<grpc::reflection::ProtoServerReflectionPlugin*>(p.get())) {
        p = std::make_unique<SyncQueuesOnly>();
      }
    }
  }

 private:
  class SyncQueuesOnly final : public grpc::ServerBuilderPlugin {
   public:
    std::string name() override { return "stancewire_sync_queues_only"; }
    void InitServer(grpc::ServerInitializer*) override {}
    void Finish(grpc::ServerInitializer*) override {}
    void ChangeArguments(const std::string&, void*) override {}
    bool has_sync_methods() const override { return true; }
  };
};

void ApplyCommonOptions(const ServerOptions& options, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
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
  auto ms = [](std::chrono::seconds s) {
    return static_cast<int>(std::min<int64_t>(INT32_MAX, s.count() * 1000));
  };
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(options.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(options.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             ms(options.max_connection_age_grace));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, ms(options.handshake_timeout));
  if (!options.reflection) builder.SetOption(std::make_unique<WithoutReflection>());
}

}  // namespace

std::unique_ptr<grpc::Server> StartServer(const ServerOptions& options,
                                          const std::vector<grpc::Service*>& services,
                                          int* bound_port) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      options.listen, options.credentials ? options.credentials : grpc::InsecureServerCredentials(),
      &port);
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

std::unique_ptr<grpc::Server> StartHealthServer(const std::string& listen) {
  ServerOptions options;
  options.listen = listen;
  options.max_message_bytes = 64 * 1024;
  options.reflection = false;  // health alone: probes need nothing else
  int port = 0;
  auto server = StartServer(options, {}, &port);
  if (server) spdlog::info("health (plaintext) on {} (port {})", listen, port);
  return server;
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
