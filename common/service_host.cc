#include "common/service_host.h"

#include <spdlog/spdlog.h>

#include "common/fd_guard.h"
#include "common/shutdown_signal.h"

namespace stancewire {
namespace {

const char* DescribeTls(const TlsFiles& tls) {
  if (!tls.enabled()) return "PLAINTEXT, no TLS";
  return tls.ca.empty() ? "TLS" : "mutual TLS";
}

bool AnyNull(const std::vector<grpc::Service*>& services) {
  for (const auto* s : services) {
    if (!s) return true;
  }
  return false;
}

}  // namespace

ServiceHost::ServiceHost(ServiceHostOptions options, std::vector<grpc::Service*> services,
                         std::vector<std::vector<grpc::Service*>> extra_port_services)
    : options_(std::move(options)),
      services_(std::move(services)),
      extra_port_services_(std::move(extra_port_services)) {}

ServiceHost::~ServiceHost() {
  // Newest first, as the servers of a main() in one scope went.
  while (!servers_.empty()) servers_.pop_back();
}

std::string ServiceHost::Validate(
    const ServiceHostOptions& options, const std::vector<grpc::Service*>& services,
    const std::vector<std::vector<grpc::Service*>>& extra_port_services) {
  if (options.name.empty()) return "the service has no name";
  if (options.server.listen.empty()) return "the main port has no address";
  if (options.server.credentials) {
    return "server.credentials is set: the host makes them from the TLS files";
  }
  if (options.shutdown_grace.count() < 0) return "shutdown_grace is negative";
  if (AnyNull(services)) return "a service on the main port is null";
  if (extra_port_services.size() != options.extra_ports.size()) {
    return std::to_string(options.extra_ports.size()) + " extra ports but " +
           std::to_string(extra_port_services.size()) + " lists of services for them";
  }
  for (size_t i = 0; i < options.extra_ports.size(); ++i) {
    const ExtraPort& port = options.extra_ports[i];
    if (port.name.empty() || port.listen.empty()) {
      return "extra port " + std::to_string(i) + " has no name or no address";
    }
    if (extra_port_services[i].empty() || AnyNull(extra_port_services[i])) {
      return port.name + ": no services, or a null one";
    }
  }
  return "";
}

bool ServiceHost::LoadSecurity(const ServiceHostOptions& options,
                               std::unique_ptr<TokenAuthorizer>* authorizer) {
  std::vector<const FlaggedTls*> files = {&options.tls};
  for (const auto& port : options.extra_ports) files.push_back(&port.tls);
  for (const auto& client : options.client_tls) files.push_back(&client);
  for (const FlaggedTls* tls : files) {
    if (std::string problem = CheckTlsFiles(tls->files, false); !problem.empty()) {
      spdlog::critical("{}: {}", tls->flags, problem);
      return false;
    }
  }
  std::string error;
  if (!TokenAuthorizer::LoadOptional(options.tokens, authorizer, &error)) {
    spdlog::critical("--tokens: {}", error);
    return false;
  }
  return true;
}

bool ServiceHost::Start() {
  if (std::string problem = Validate(options_, services_, extra_port_services_); !problem.empty()) {
    spdlog::critical("{}: {}", options_.name, problem);
    return false;
  }
  PrepareServerBuilderPlugins();
  LogFdLimits();
  ServerOptions main = options_.server;
  main.credentials = MakeServerCredentials(options_.tls.files);
  auto server = StartServer(main, services_, &port_);
  if (!server) return false;
  servers_.push_back(std::move(server));
  for (size_t i = 0; i < options_.extra_ports.size(); ++i) {
    const ExtraPort& extra = options_.extra_ports[i];
    ServerOptions options = main;
    options.listen = extra.listen;
    options.credentials = MakeServerCredentials(extra.tls.files);
    int port = 0;
    server = StartServer(options, extra_port_services_[i], &port);
    if (!server) return false;
    servers_.push_back(std::move(server));
    spdlog::info("{} on {} (port {}, {})", extra.name, extra.listen, port,
                 DescribeTls(extra.tls.files));
  }
  if (!options_.health_listen.empty()) {
    server = StartHealthServer(options_.health_listen);
    if (!server) return false;
    servers_.push_back(std::move(server));
  }
  return true;
}

std::string ServiceHost::ServingLine() const {
  return options_.name + " serving on " + options_.server.listen + " (port " +
         std::to_string(port_) + ", " + DescribeTls(options_.tls.files) +
         (options_.tokens.empty() ? ", no token required)" : ", bearer tokens required)");
}

std::chrono::system_clock::time_point ServiceHost::ServeUntilSignal(
    const std::function<void()>& drain) {
  const int sig = WaitForShutdownSignal();
  spdlog::info("signal {} received: NOT_SERVING, draining for up to {} s", sig,
               options_.shutdown_grace.count());
  for (auto& s : servers_) SetServing(s.get(), false);
  if (drain) drain();
  const auto deadline = std::chrono::system_clock::now() + options_.shutdown_grace;
  for (auto& s : servers_) s->Shutdown(deadline);
  return deadline;
}

}  // namespace stancewire
