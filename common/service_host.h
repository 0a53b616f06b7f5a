// The start-up and shutdown both services share: the gRPC ports a service process runs, their
// security, and the drain on SIGTERM. A main() keeps only what is its own (flags, stores, service
// objects) and hands the host plain values and the services to register:
//
//   int main(int argc, char** argv) {
//     BlockShutdownSignals();  // first: every thread started later inherits the mask
//     ... parse flags ...
//     ServiceHostOptions options = HostOptionsFromFlags("ingest-service", flags.common);
//     std::unique_ptr<TokenAuthorizer> authorizer;
//     if (!ServiceHost::LoadSecurity(options, &authorizer)) return 1;
//     MyService service(authorizer.get());
//     ServiceHost host(options, {&service});  // after the services, so it stops before they go
//     if (!host.Start()) return 1;
//     spdlog::info("{}, ...", host.ServingLine());
//     host.ServeUntilSignal();
//   }
//
// What the host runs:
//  - the main port (options.server.listen): the services, health and reflection, TLS or mutual
//    TLS from options.tls, keepalive, message limits and connection reaping (grpc_server.h);
//  - extra ports serving some services with TLS of their own (query-service's --sink-listen),
//    with the main port's limits;
//  - a plaintext port serving only health (options.health_listen), for probes without TLS.
// Shutdown, on SIGTERM or SIGINT: every port reports NOT_SERVING, then the caller's drain step
// runs (ending streams that never end by themselves), then the servers stop taking calls and
// in-flight ones get options.shutdown_grace to finish.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/grpc_server.h"
#include "common/security.h"

namespace stancewire {

// TLS files and the flags they came from, which a start-up error names.
struct FlaggedTls {
  TlsFiles files;     // none: plaintext; cert and key: TLS; and ca: mutual TLS (or, for a
                      // client, the CA the server's certificate must chain to)
  std::string flags;  // e.g. "--tls-cert/--tls-key"
};

// A port of its own for some of the services.
struct ExtraPort {
  std::string name;    // names it in its start-up line: "NAME on LISTEN (port N, TLS)"
  std::string listen;  // HOST:PORT
  FlaggedTls tls;
};

struct ServiceHostOptions {
  std::string name;  // "query-service": names the service in log lines
  // The main port's address, and the limits, keepalive and reaping of every port but the
  // health-only one. The host makes the credentials from `tls`: leave `credentials` null.
  ServerOptions server;
  FlaggedTls tls{{}, "--tls-cert/--tls-key"};  // the main port's
  std::vector<ExtraPort> extra_ports;
  // The service's own client TLS (ingest-service's channel to query-service): only checked
  // at start, with the ports', so that every bad file fails before anything opens.
  std::vector<FlaggedTls> client_tls;
  std::string tokens;         // the --tokens file; empty: no token required
  std::string health_listen;  // the plaintext health-only port; empty: none
  std::chrono::seconds shutdown_grace{10};
};

class ServiceHost {
 public:
  // `services` go on the main port, extra_port_services[i] on options.extra_ports[i]. The
  // services must outlive the host: declare it after them.
  ServiceHost(ServiceHostOptions options, std::vector<grpc::Service*> services,
              std::vector<std::vector<grpc::Service*>> extra_port_services = {});
  // Stops the servers still running (the ports that started when a later one failed).
  ~ServiceHost();
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // "" when the options and the services go together; else what does not (a caller's bug).
  static std::string Validate(const ServiceHostOptions& options,
                              const std::vector<grpc::Service*>& services,
                              const std::vector<std::vector<grpc::Service*>>& extra_port_services);

  // Checks every TLS file the options name (the main port's, the extra ports', the clients') and
  // loads options.tokens into *authorizer (null when there is no file: every caller allowed).
  // On a bad file: false, with a critical line "FLAGS: problem" (the service exits 1). Call it
  // before opening stores, so that a typo in a flag fails at once.
  static bool LoadSecurity(const ServiceHostOptions& options,
                           std::unique_ptr<TokenAuthorizer>* authorizer);

  // Prepares gRPC (PrepareServerBuilderPlugins: reflection, health, descriptor limits), then
  // starts the main port, the extra ports and the health-only port, in that order, logging a
  // line for each but the main one (the service logs ServingLine when its own work runs). False
  // (logged) when the options are invalid or a port cannot be bound: the service exits 1.
  bool Start();

  // The main port's bound port (useful with :0); 0 before Start.
  int port() const { return port_; }

  // "NAME serving on LISTEN (port N, TLS, bearer tokens required)", the start of the service's
  // start-up line (it appends what is its own).
  std::string ServingLine() const;

  // Blocks until SIGTERM or SIGINT, then drains: every port NOT_SERVING, `drain` (if any), then
  // Shutdown with in-flight calls given until the returned deadline (now + shutdown_grace).
  std::chrono::system_clock::time_point ServeUntilSignal(const std::function<void()>& drain = {});

 private:
  const ServiceHostOptions options_;
  const std::vector<grpc::Service*> services_;
  const std::vector<std::vector<grpc::Service*>> extra_port_services_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;  // in start order
  int port_ = 0;
};

}  // namespace stancewire
