// query-service: stores the stances ingest-service delivers and answers queries over them.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/shutdown_signal.h"
#include "extraction/extractor.h"
#include "query-service/query_service.h"
#include "query-service/stance_sink.h"
#include "query-service/stance_store.h"

namespace {

struct Flags {
  std::string listen = "0.0.0.0:7410";
  std::string sink_listen;  // empty: the delivery stream shares --listen
  std::string store = "sqlite:data/local/query/stances.db";
  std::string data_dir = STANCEWIRE_DEFAULT_DATA_DIR;
  std::vector<std::string> actor_files;
  std::string page_token_key;
  std::string log_level = "info";
  int shutdown_grace_seconds = 10;
  int max_message_bytes = 8 * 1024 * 1024;
  size_t max_batch_stances = 10000;
  size_t watch_queue = 1000;
  size_t max_watchers = 1000;
};

}  // namespace

int main(int argc, char** argv) {
  stancewire::BlockShutdownSignals();
  Flags flags;
  CLI::App app{"query-service: stores stances and answers queries over them"};
  app.option_defaults()->always_capture_default();
  app.add_option("--listen", flags.listen, "HOST:PORT for QueryService, health and reflection")
      ->envname("STANCEWIRE_LISTEN");
  app.add_option("--sink-listen", flags.sink_listen,
                 "HOST:PORT for the StanceSink delivery stream (empty: served on --listen)")
      ->envname("STANCEWIRE_SINK_LISTEN");
  app.add_option("--store", flags.store, "where stances are kept: sqlite:PATH")
      ->envname("STANCEWIRE_STORE");
  app.add_option("--data-dir", flags.data_dir, "folder of the knowledge files (actors/, ...)")
      ->envname("STANCEWIRE_DATA_DIR");
  app.add_option("--actors", flags.actor_files, "extra actor dictionary file (repeatable)")
      ->envname("STANCEWIRE_ACTORS")
      ->delimiter(',');
  app.add_option("--page-token-key", flags.page_token_key,
                 "secret that signs page tokens; share it between replicas (empty: random)")
      ->envname("STANCEWIRE_PAGE_TOKEN_KEY");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error")
      ->envname("STANCEWIRE_LOG_LEVEL");
  app.add_option("--shutdown-grace", flags.shutdown_grace_seconds,
                 "seconds in-flight calls get to finish on SIGTERM")
      ->envname("STANCEWIRE_SHUTDOWN_GRACE")
      ->check(CLI::Range(0, 3600));
  app.add_option("--max-message-bytes", flags.max_message_bytes, "largest gRPC message accepted")
      ->envname("STANCEWIRE_MAX_MESSAGE_BYTES")
      ->check(CLI::Range(1024, 256 * 1024 * 1024));
  app.add_option("--max-batch-stances", flags.max_batch_stances,
                 "largest delivery batch accepted, in stances")
      ->envname("STANCEWIRE_MAX_BATCH_STANCES")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--watch-queue", flags.watch_queue,
                 "stances a WatchStances client may fall behind before it is dropped")
      ->envname("STANCEWIRE_WATCH_QUEUE")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-watchers", flags.max_watchers, "concurrent WatchStances calls")
      ->envname("STANCEWIRE_MAX_WATCHERS")
      ->check(CLI::Range(0, 100000));
  CLI11_PARSE(app, argc, argv);

  if (!stancewire::InitLogging("query-service", flags.log_level)) return 2;

  std::string error;
  stancewire::extraction::ExtractorConfig config{flags.data_dir, flags.actor_files};
  auto extractor = stancewire::extraction::Extractor::Load(config, &error);
  if (!extractor) {
    spdlog::critical("cannot load knowledge files: {}", error);
    return 1;
  }
  auto store = stancewire::query::OpenStanceStore(flags.store, &error);
  if (!store) {
    spdlog::critical("cannot open store: {}", error);
    return 1;
  }

  stancewire::query::StoreWriter writer;
  stancewire::query::WatchHub watch_hub({flags.watch_queue, flags.max_watchers});
  stancewire::query::QueryServiceImpl query_service(store.get(), &extractor->actors(),
                                                    flags.page_token_key, &watch_hub);
  stancewire::query::StanceSinkService sink_service(store.get(), &writer, flags.max_batch_stances,
                                                    &watch_hub);

  stancewire::PrepareServerBuilderPlugins();
  stancewire::ServerOptions options;
  options.listen = flags.listen;
  options.max_message_bytes = flags.max_message_bytes;
  std::vector<grpc::Service*> main_services = {&query_service};
  if (flags.sink_listen.empty()) main_services.push_back(&sink_service);
  int port = 0;
  auto server = stancewire::StartServer(options, main_services, &port);
  if (!server) return 1;
  std::unique_ptr<grpc::Server> sink_server;
  if (!flags.sink_listen.empty()) {
    auto sink_options = options;
    sink_options.listen = flags.sink_listen;
    int sink_port = 0;
    sink_server = stancewire::StartServer(sink_options, {&sink_service}, &sink_port);
    if (!sink_server) return 1;
    spdlog::info("delivery stream (StanceSink) on {} (port {})", flags.sink_listen, sink_port);
  }
  spdlog::info("query-service serving on {} (port {}), store {}, plaintext (no TLS)", flags.listen,
               port, flags.store);

  int sig = stancewire::WaitForShutdownSignal();
  spdlog::info("signal {} received: NOT_SERVING, draining for up to {} s", sig,
               flags.shutdown_grace_seconds);
  stancewire::SetServing(server.get(), false);
  if (sink_server) stancewire::SetServing(sink_server.get(), false);
  watch_hub.Close();  // watch streams never end by themselves: end them so draining can finish
  auto deadline =
      std::chrono::system_clock::now() + std::chrono::seconds(flags.shutdown_grace_seconds);
  if (sink_server) sink_server->Shutdown(deadline);
  server->Shutdown(deadline);
  spdlog::info("query-service stopped");
  return 0;
}
