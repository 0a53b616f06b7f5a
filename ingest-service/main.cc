// ingest-service: turns news items into stances and delivers them to query-service.
// `ingest-service extract [FILE...]` is the offline dry run: JSON Lines in, stances out.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "common/grpc_server.h"
#include "common/json_lines.h"
#include "common/logging.h"
#include "common/security.h"
#include "common/service_flags.h"
#include "common/service_host.h"
#include "common/shutdown_signal.h"
#include "extraction/extractor.h"
#include "ingest-service/extract_json.h"
#include "ingest-service/forwarder.h"
#include "ingest-service/ingest_service.h"
#include "ingest-service/outbox.h"

namespace {

struct Flags {
  // Loopback unless told otherwise: containers and manifests set their addresses explicitly.
  stancewire::CommonServiceFlags common{.listen = "127.0.0.1:7400",
                                        .data_dir = STANCEWIRE_DEFAULT_DATA_DIR};
  std::string query = "127.0.0.1:7410";
  std::string query_ca;
  std::string query_cert;
  std::string query_key;
  std::string query_token;
  std::string query_token_file;
  std::string outbox = "data/local/ingest/outbox.db";
  int64_t outbox_limit = 1'000'000;
  std::string outbox_sync = "full";
  size_t batch_stances = 500;
  size_t max_in_flight = 32;
  int backoff_initial_ms = 100;
  int backoff_max_ms = 10000;
  size_t max_text_bytes = 1024 * 1024;
  stancewire::ingest::ItemLimits limits;
  // extract
  std::vector<std::string> files;
  bool explain = false;
  std::string on_error = "stop";
  bool ignore_unknown_fields = false;
};

// Runs `extract`: reads NewsItems as JSON Lines from each file (stdin when none), writes one Stance
// per line. Bad lines are reported with file and line number; --on-error chooses skip or stop.
int RunExtract(const Flags& flags, const stancewire::extraction::Extractor& extractor) {
  // Buffered standard streams (stdin was read a byte at a time through stdio); cerr stays
  // unit-buffered, so errors keep their order next to spdlog's.
  std::ios::sync_with_stdio(false);
  stancewire::JsonLinesReader::Options reader_options;
  reader_options.ignore_unknown_fields = flags.ignore_unknown_fields;
  reader_options.max_line_bytes = flags.max_text_bytes * 2 + 64 * 1024;
  reader_options.fast_parse = stancewire::ingest::ParseNewsItemFast;
  stancewire::ingest::StanceJsonWriter writer;
  stancewire::extraction::ExtractOptions options;
  options.explain = flags.explain;
  std::string trace;  // --explain: what each extraction stage decided, on stderr
  if (flags.explain) options.trace = &trace;
  std::vector<std::string> files = flags.files;
  if (files.empty()) files.push_back("-");
  int errors = 0;
  std::string out;
  for (const auto& file : files) {
    std::ifstream stream;
    std::istream* in = &std::cin;
    if (file != "-") {
      stream.open(file, std::ios::binary);
      if (!stream) {
        spdlog::error("{}: cannot open", file);
        return 2;
      }
      in = &stream;
    }
    const std::string name = file == "-" ? "stdin" : file;
    stancewire::JsonLinesReader reader(*in, reader_options);
    stancewire::v1::NewsItem item;
    std::string error;
    for (;;) {
      auto result = reader.Next(&item, &error);
      if (result == stancewire::JsonLinesReader::Result::kEnd) break;
      if (result == stancewire::JsonLinesReader::Result::kMessage) {
        std::string problem = stancewire::extraction::ValidateItem(item, flags.max_text_bytes);
        if (!problem.empty()) {
          error = "line " + std::to_string(reader.line_number()) + ": item " + item.id() + ": " +
                  problem;
          result = stancewire::JsonLinesReader::Result::kError;
        }
      }
      if (result == stancewire::JsonLinesReader::Result::kError) {
        ++errors;
        std::cerr << name << ":" << error << "\n";
        if (flags.on_error == "stop") return 1;
        continue;
      }
      out.clear();
      for (const auto& stance : extractor.Extract(item, options)) {
        if (!writer.Append(stance, &out)) out += stancewire::ToJsonLine(stance);
        out.push_back('\n');
      }
      std::cout << out;
      if (!trace.empty()) {
        std::cerr << trace;
        trace.clear();
      }
    }
  }
  std::cout.flush();
  return errors ? 1 : 0;
}

int RunServer(const Flags& flags, const stancewire::extraction::Extractor& extractor) {
  const auto& common = flags.common;
  stancewire::ServiceHostOptions host_options =
      stancewire::HostOptionsFromFlags("ingest-service", common);
  const stancewire::TlsFiles query_tls{flags.query_cert, flags.query_key, flags.query_ca,
                                       common.tls_refresh_seconds};
  host_options.client_tls.push_back({query_tls, "--query-ca/--query-cert/--query-key"});
  std::unique_ptr<stancewire::TokenAuthorizer> authorizer;
  if (!stancewire::ServiceHost::LoadSecurity(host_options, &authorizer)) return 1;
  std::string error;
  std::string query_token = flags.query_token;
  if (!flags.query_token_file.empty()) {
    if (!query_token.empty()) {
      spdlog::critical("--query-token and --query-token-file: give one, not both");
      return 1;
    }
    if (!stancewire::ReadTokenFile(flags.query_token_file, &query_token, &error)) {
      spdlog::critical("--query-token-file: {}", error);
      return 1;
    }
  }
  stancewire::ingest::OutboxOptions outbox_options;
  outbox_options.path = flags.outbox;
  outbox_options.max_pending_stances = flags.outbox_limit;
  // Every entry then fits in one batch.
  outbox_options.max_stances_per_entry = flags.batch_stances;
  // And several entries fit in a batch, which stays at half the message limit (see below).
  outbox_options.max_entry_bytes =
      std::min<size_t>(outbox_options.max_entry_bytes, common.max_message_bytes / 4);
  stancewire::ingest::ParseSyncMode(flags.outbox_sync, &outbox_options.sync);
  auto outbox = stancewire::ingest::Outbox::Open(outbox_options, &error);
  if (!outbox) {
    spdlog::critical("cannot open outbox: {}", error);
    return 1;
  }

  auto channel_args = stancewire::ClientChannelArguments(host_options.server);
  // With several query-service replicas behind a headless Service, each new stream (after a
  // reconnect or the server's max connection age) goes to the next address.
  channel_args.SetLoadBalancingPolicyName("round_robin");
  auto channel = grpc::CreateCustomChannel(
      flags.query, stancewire::MakeChannelCredentials(query_tls), channel_args);
  stancewire::ingest::ForwarderOptions forwarder_options;
  forwarder_options.batch_stances = flags.batch_stances;
  forwarder_options.max_in_flight_batches = flags.max_in_flight;
  // Batches stay well below the gRPC message limit.
  forwarder_options.batch_bytes =
      std::min<size_t>(forwarder_options.batch_bytes, common.max_message_bytes / 2);
  forwarder_options.backoff_initial = std::chrono::milliseconds(flags.backoff_initial_ms);
  forwarder_options.backoff_max = std::chrono::milliseconds(flags.backoff_max_ms);
  forwarder_options.bearer_token = query_token;
  stancewire::ingest::Forwarder forwarder(outbox.get(), channel, forwarder_options);

  stancewire::ingest::ItemLimits limits = flags.limits;
  limits.max_text_bytes = flags.max_text_bytes;
  // An item's stances travel in one Ingest response: below half the message limit, and below
  // the 4 MiB that gRPC clients accept by default.
  limits.max_item_bytes =
      std::min<size_t>(limits.max_item_bytes, static_cast<size_t>(common.max_message_bytes) / 2);
  stancewire::ingest::IngestServiceImpl service(&extractor, outbox.get(), limits, authorizer.get());
  stancewire::ServiceHost host(std::move(host_options), {&service});
  if (!host.Start()) return 1;
  forwarder.Start();
  spdlog::info("{}, delivering to {} ({}), outbox {} (sync {})", host.ServingLine(), flags.query,
               query_tls.ca.empty() ? "PLAINTEXT" : (query_tls.enabled() ? "mutual TLS" : "TLS"),
               flags.outbox, flags.outbox_sync);

  int64_t left = forwarder.Stop(host.ServeUntilSignal());
  spdlog::info("ingest-service stopped; {} stances stay in the outbox for the next start", left);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  stancewire::BlockShutdownSignals();
  Flags flags;
  CLI::App app{"ingest-service: extracts stances from news items and delivers them"};
  stancewire::AddCommonServiceFlags(app, &flags.common);
  app.add_option("--query", flags.query, "HOST:PORT of query-service's delivery stream")
      ->envname("STANCEWIRE_QUERY");
  app.add_option("--query-ca", flags.query_ca,
                 "PEM CA that query-service's certificate must chain to: TLS to --query")
      ->envname("STANCEWIRE_QUERY_CA");
  app.add_option("--query-cert", flags.query_cert,
                 "PEM client certificate for mutual TLS to --query")
      ->envname("STANCEWIRE_QUERY_CERT");
  app.add_option("--query-key", flags.query_key, "PEM private key for --query-cert")
      ->envname("STANCEWIRE_QUERY_KEY");
  app.add_option("--query-token", flags.query_token,
                 "bearer token (role delivery) for query-service's stream; visible to other "
                 "local users in the process list: prefer --query-token-file")
      ->envname("STANCEWIRE_QUERY_TOKEN");
  app.add_option("--query-token-file", flags.query_token_file,
                 "file whose first line is the bearer token (role delivery) for the stream")
      ->envname("STANCEWIRE_QUERY_TOKEN_FILE");
  app.add_option("--outbox", flags.outbox, "SQLite file of stances awaiting delivery")
      ->envname("STANCEWIRE_OUTBOX");
  app.add_option("--outbox-limit", flags.outbox_limit,
                 "undelivered stances past which Ingest answers RESOURCE_EXHAUSTED")
      ->envname("STANCEWIRE_OUTBOX_LIMIT")
      ->check(CLI::PositiveNumber);
  app.add_option("--outbox-sync", flags.outbox_sync,
                 "full: fsync every commit; normal: survive crashes, not power loss; off")
      ->envname("STANCEWIRE_OUTBOX_SYNC")
      ->check(CLI::IsMember({"full", "normal", "off"}));
  app.add_option("--batch-size", flags.batch_stances, "stances per delivery batch")
      ->envname("STANCEWIRE_BATCH_SIZE")
      ->check(CLI::Range(1, 10000));
  app.add_option("--max-in-flight", flags.max_in_flight, "unacknowledged batches on the stream")
      ->envname("STANCEWIRE_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 1024));
  app.add_option("--backoff-initial-ms", flags.backoff_initial_ms, "first reconnect delay")
      ->envname("STANCEWIRE_BACKOFF_INITIAL_MS")
      ->check(CLI::Range(1, 600000));
  app.add_option("--backoff-max-ms", flags.backoff_max_ms, "longest reconnect delay")
      ->envname("STANCEWIRE_BACKOFF_MAX_MS")
      ->check(CLI::Range(1, 3600000));
  app.add_option("--max-text-bytes", flags.max_text_bytes, "largest NewsItem.text accepted")
      ->envname("STANCEWIRE_MAX_TEXT_BYTES")
      ->check(CLI::Range(1, 64 * 1024 * 1024));
  app.add_option("--max-stances-per-item", flags.limits.max_stances,
                 "an item yielding more stances is refused (INVALID_ARGUMENT)")
      ->envname("STANCEWIRE_MAX_STANCES_PER_ITEM")
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-evidence-bytes", flags.limits.max_evidence_bytes,
                 "an item whose stance's evidence sentence is longer is refused")
      ->envname("STANCEWIRE_MAX_EVIDENCE_BYTES")
      ->check(CLI::Range(64, 1024 * 1024));
  app.add_option("--max-condition-bytes", flags.limits.max_condition_bytes,
                 "an item whose stance's condition text is longer is refused")
      ->envname("STANCEWIRE_MAX_CONDITION_BYTES")
      ->check(CLI::Range(16, 1024 * 1024));
  // Service flags such as --data-dir or --max-text-bytes also apply after `extract`.
  app.fallthrough();
  auto* extract = app.add_subcommand(
      "extract", "offline dry run: NewsItem JSON Lines (files or stdin) in, Stance JSON Lines out");
  extract->add_option("files", flags.files, "JSON Lines files; stdin when none or '-'");
  extract->add_flag("--explain", flags.explain, "show which cue, holder rule and patterns fired");
  extract->add_option("--on-error", flags.on_error, "a bad line: stop (exit 1) or skip it")
      ->check(CLI::IsMember({"stop", "skip"}));
  extract->add_flag("--ignore-unknown-fields", flags.ignore_unknown_fields,
                    "accept JSON fields NewsItem does not have (e.g. gold annotations)");
  CLI11_PARSE(app, argc, argv);

  if (!stancewire::InitLogging("ingest-service", flags.common.log_level)) return 2;
  std::string error;
  stancewire::extraction::ExtractorConfig config{flags.common.data_dir, flags.common.actor_files};
  auto extractor = stancewire::extraction::Extractor::Load(config, &error);
  if (!extractor) {
    spdlog::critical("cannot load knowledge files: {}", error);
    return 2;
  }
  if (extract->parsed()) return RunExtract(flags, *extractor);
  return RunServer(flags, *extractor);
}
