// query-service: stores the stances ingest-service delivers and answers queries over them.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <memory>

#include "common/logging.h"
#include "common/security.h"
#include "common/service_flags.h"
#include "common/service_host.h"
#include "common/shutdown_signal.h"
#include "extraction/actors.h"
#include "query-service/memory_budget.h"
#include "query-service/query_service.h"
#include "query-service/stance_sink.h"
#include "query-service/store/stance_store.h"

namespace {

struct Flags {
  // Loopback unless told otherwise: containers and manifests set their addresses explicitly.
  stancewire::CommonServiceFlags common{.listen = "127.0.0.1:7410",
                                        .data_dir = STANCEWIRE_DEFAULT_DATA_DIR};
  std::string sink_listen;  // empty: the delivery stream shares --listen
  std::string store = "sqlite:data/local/query/stances.db";
  std::string page_token_key;
  std::string tls_client_ca;
  std::vector<std::string> sink_allowed_identities;
  size_t max_batch_stances = 10000;
  bool insecure_delivery = false;
  size_t watch_queue = 1000;
  size_t watch_queue_bytes = size_t{8} << 20;
  size_t max_watchers = 1000;
  size_t max_unsent_bytes = stancewire::query::kDefaultUnsentBytes;
};

// "postgres://user:secret@db/x" -> "postgres://***@db/x": store URIs may carry credentials.
std::string RedactUserInfo(const std::string& uri) {
  const size_t scheme = uri.find("://");
  const size_t at = uri.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return uri;
  return uri.substr(0, scheme + 3) + "***" + uri.substr(at);
}

}  // namespace

int main(int argc, char** argv) {
  stancewire::BlockShutdownSignals();
  Flags flags;
  CLI::App app{"query-service: stores stances and answers queries over them"};
  stancewire::AddCommonServiceFlags(app, &flags.common);
  app.add_option("--sink-listen", flags.sink_listen,
                 "HOST:PORT for the StanceSink delivery stream (empty: served on --listen)")
      ->envname("STANCEWIRE_SINK_LISTEN");
  app.add_option("--store", flags.store,
                 "where stances are kept: sqlite:PATH or postgres://USER@HOST:PORT/DB")
      ->envname("STANCEWIRE_STORE");
  app.add_option("--page-token-key", flags.page_token_key,
                 "secret that signs page tokens; share it between replicas (empty: random)")
      ->envname("STANCEWIRE_PAGE_TOKEN_KEY");
  app.add_option("--tls-client-ca", flags.tls_client_ca,
                 "PEM CA: clients of the delivery stream must present a certificate from it")
      ->envname("STANCEWIRE_TLS_CLIENT_CA");
  app.add_option("--sink-allowed-identities", flags.sink_allowed_identities,
                 "client certificate SANs allowed on the delivery stream (empty: any from the CA)")
      ->envname("STANCEWIRE_SINK_ALLOWED_IDENTITIES")
      ->delimiter(',');
  app.add_flag("--insecure-delivery", flags.insecure_delivery,
               "accept delivery streams from peers without a client certificate or delivery "
               "token (a laptop or a test; anyone who reaches the port can write stances)")
      ->envname("STANCEWIRE_INSECURE_DELIVERY");
  app.add_option("--max-batch-stances", flags.max_batch_stances,
                 "largest delivery batch accepted, in stances")
      ->envname("STANCEWIRE_MAX_BATCH_STANCES")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--watch-queue", flags.watch_queue,
                 "stances a WatchStances client may fall behind before it is dropped")
      ->envname("STANCEWIRE_WATCH_QUEUE")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--watch-queue-bytes", flags.watch_queue_bytes,
                 "bytes of stances a WatchStances client may fall behind before it is dropped")
      ->envname("STANCEWIRE_WATCH_QUEUE_BYTES")
      ->check(CLI::Range(size_t{1} << 16, size_t{1} << 40));
  app.add_option("--max-watchers", flags.max_watchers, "concurrent WatchStances calls")
      ->envname("STANCEWIRE_MAX_WATCHERS")
      ->check(CLI::Range(0, 100000));
  app.add_option("--max-unsent-bytes", flags.max_unsent_bytes,
                 "bytes of answers and watch queues clients have not read yet, over all calls")
      ->envname("STANCEWIRE_MAX_UNSENT_BYTES")
      ->check(CLI::Range(size_t{16} << 20, size_t{1} << 40));
  CLI11_PARSE(app, argc, argv);

  const auto& common = flags.common;
  if (!stancewire::InitLogging("query-service", common.log_level)) return 2;

  const stancewire::TlsFiles sink_tls{common.tls_cert, common.tls_key, flags.tls_client_ca,
                                      common.tls_refresh_seconds};
  if (!flags.tls_client_ca.empty() && !sink_tls.enabled()) {
    spdlog::critical("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first");
    return 1;
  }
  if (!flags.sink_allowed_identities.empty() && flags.tls_client_ca.empty()) {
    spdlog::critical(
        "--sink-allowed-identities needs --tls-client-ca: identities come from "
        "client certificates");
    return 1;
  }
  // With a separate stream port, mutual TLS applies there only; otherwise to the shared port.
  constexpr const char* kTlsFlags = "--tls-cert/--tls-key/--tls-client-ca";
  stancewire::ServiceHostOptions host_options =
      stancewire::HostOptionsFromFlags("query-service", common);
  host_options.tls = {
      {common.tls_cert, common.tls_key, flags.sink_listen.empty() ? flags.tls_client_ca : "",
       common.tls_refresh_seconds},
      kTlsFlags};
  if (!flags.sink_listen.empty()) {
    host_options.extra_ports.push_back(
        {"delivery stream (StanceSink)", flags.sink_listen, {sink_tls, kTlsFlags}});
  }
  std::unique_ptr<stancewire::TokenAuthorizer> authorizer;
  if (!stancewire::ServiceHost::LoadSecurity(host_options, &authorizer)) return 1;
  std::string error;
  stancewire::extraction::Actors actors;
  if (!actors.LoadConfigured({common.data_dir, common.actor_files}, &error)) {
    spdlog::critical("cannot load knowledge files: {}", error);
    return 1;
  }
  auto store = stancewire::query::OpenStanceStore(flags.store, &error);
  if (!store) {
    spdlog::critical("cannot open store: {}", error);
    return 1;
  }

  // Bounds what slow or stalled readers can make this process hold (docs/security.md, Limits).
  stancewire::query::MemoryBudget unsent(flags.max_unsent_bytes);
  stancewire::query::WatchHub watch_hub(
      {flags.watch_queue, flags.max_watchers, flags.watch_queue_bytes, &unsent});
  // Replicas share one database: stances stored through another replica reach this replica's
  // watchers through the store's change feed (this replica's own writes are published directly).
  if (!store->StartChangeFeed(
          [&watch_hub](const std::vector<stancewire::v1::Stance>& stances) {
            watch_hub.Publish(stances);
          },
          [] {
            spdlog::warn(
                "change notifications were interrupted: watchers here may have missed "
                "stances stored through other replicas meanwhile");
          },
          &error)) {
    spdlog::critical("cannot listen for changes in the store: {}", error);
    return 1;
  }
  stancewire::query::StoreWriter writer(store.get(), &watch_hub);
  stancewire::query::QueryServiceImpl query_service(store.get(), &actors, flags.page_token_key,
                                                    &watch_hub, authorizer.get(), &unsent);
  query_service.set_max_page_bytes(
      std::min<size_t>(3 * 1024 * 1024, static_cast<size_t>(common.max_message_bytes) / 2));
  stancewire::query::SinkAccess sink_access{authorizer.get(), !flags.tls_client_ca.empty(),
                                            flags.sink_allowed_identities, flags.insecure_delivery};
  if (flags.insecure_delivery) {
    spdlog::warn(
        "--insecure-delivery: the delivery stream accepts peers without a client certificate or "
        "delivery token; anyone who can reach it can write stances");
  }
  stancewire::query::StanceSinkService sink_service(&writer, flags.max_batch_stances,
                                                    std::move(sink_access));

  std::vector<grpc::Service*> main_services = {&query_service};
  std::vector<std::vector<grpc::Service*>> extra_port_services;
  if (flags.sink_listen.empty()) {
    main_services.push_back(&sink_service);
  } else {
    extra_port_services.push_back({&sink_service});
  }
  stancewire::ServiceHost host(std::move(host_options), std::move(main_services),
                               std::move(extra_port_services));
  if (!host.Start()) return 1;
  spdlog::info("{}, store {}", host.ServingLine(), RedactUserInfo(flags.store));

  // Watch and delivery streams never end by themselves: end them once the servers stop taking
  // calls (delivery streams after their batches in the store are acknowledged), so that shutdown
  // takes as long as that, not the whole grace.
  host.ServeUntilSignal([&] {
    store->StopChangeFeed();
    watch_hub.Close();
    sink_service.Drain();
  });
  spdlog::info("query-service stopped");
  return 0;
}
