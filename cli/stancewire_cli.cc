// stancewire: command-line client for ingest-service and query-service.
//   stancewire ingest [--ingest HOST:PORT] FILE...    send NewsItem JSON Lines to Ingest
//   stancewire list [--query HOST:PORT] [--actor A] [--condition C] [--speaker P]
//                   [--min-confidence X] [--published-after T] [--published-before T] [--all]
//                   [--format text|json]
//   stancewire wait-ready --target HOST:PORT [--timeout S]   poll grpc.health.v1 until SERVING
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "common/json_lines.h"
#include "common/timestamps.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "stancewire/v1/ingest.grpc.pb.h"
#include "stancewire/v1/query.grpc.pb.h"

namespace {

namespace v1 = stancewire::v1;

std::chrono::system_clock::time_point DeadlineIn(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

std::string PositionName(v1::Position p) {
  std::string name = v1::Position_Name(p);
  return name.substr(name.find('_') + 1);
}

// "Azerbaijan — CONDITIONAL — conditions: UN_MANDATE ... — reported by AnewZ — evidence: ..."
std::string DescribeStance(const v1::Stance& s) {
  std::string line =
      s.actor().name() + " (as \"" + s.actor().mention() + "\") — " + PositionName(s.position());
  if (!s.topic().empty()) line += " — on " + s.topic();
  if (s.conditions_size() > 0) {
    // A kind can come from several phrases of the item; name each kind once.
    std::set<std::string> kinds;
    line += " — conditions:";
    for (const auto& c : s.conditions()) {
      if (kinds.insert(c.kind()).second) line += " " + c.kind();
    }
  }
  line += " — reported by " + (s.attribution().empty() ? s.outlet() : s.attribution());
  if (!s.attribution().empty() && !s.outlet().empty()) line += " (in " + s.outlet() + ")";
  line += " — evidence [" + std::to_string(s.evidence().start()) + "," +
          std::to_string(s.evidence().end()) + "): " + s.evidence().text();
  return line;
}

int Ingest(const std::string& target, const std::vector<std::string>& files, int timeout) {
  auto stub =
      v1::IngestService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  int failures = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << file << ": cannot open\n";
      return 2;
    }
    stancewire::JsonLinesReader reader(in, {});
    v1::IngestRequest request;
    std::string error;
    for (;;) {
      auto result = reader.Next(request.mutable_item(), &error);
      if (result == stancewire::JsonLinesReader::Result::kEnd) break;
      if (result == stancewire::JsonLinesReader::Result::kError) {
        std::cerr << file << ":" << error << "\n";
        ++failures;
        continue;
      }
      grpc::ClientContext context;
      context.set_deadline(DeadlineIn(timeout));
      v1::IngestResponse response;
      grpc::Status status = stub->Ingest(&context, request, &response);
      if (!status.ok()) {
        std::cerr << file << ":" << reader.line_number() << ": item " << request.item().id() << ": "
                  << status.error_message() << " (code " << status.error_code() << ")\n";
        ++failures;
        continue;
      }
      std::cout << "ingested " << request.item().id() << ": " << response.stances_size()
                << " stances\n";
    }
  }
  return failures ? 1 : 0;
}

int List(const std::string& target, v1::ListStancesRequest request, bool all,
         const std::string& format, int timeout) {
  auto stub =
      v1::QueryService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout));
    v1::ListStancesResponse response;
    grpc::Status status = stub->ListStances(&context, request, &response);
    if (!status.ok()) {
      std::cerr << "ListStances: " << status.error_message() << " (code " << status.error_code()
                << ")\n";
      return 1;
    }
    for (const auto& s : response.stances()) {
      if (format != "json") {
        std::cout << DescribeStance(s) << "\n";
        continue;
      }
      std::string line, error;
      if (!stancewire::ToJsonLine(s, &line, &error)) {
        std::cout.flush();
        std::cerr << "stance " << s.id() << " cannot be printed as JSON: " << error << "\n";
        return 1;
      }
      std::cout << line << "\n";
    }
    if (!all || response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return 0;
}

// Parses an RFC 3339 time ("2025-10-01T00:00:00Z") for a filter; false with the reason printed.
bool ParseTime(const std::string& flag, const std::string& text, google::protobuf::Timestamp* ts) {
  if (!google::protobuf::util::TimeUtil::FromString(text, ts)) {
    std::cerr << flag << ": '" << text
              << "' is not an RFC 3339 time in 0001..9999 (e.g. 2025-10-01T00:00:00Z)\n";
    return false;
  }
  if (std::string problem = stancewire::TimestampProblem(flag, *ts); !problem.empty()) {
    std::cerr << problem << "\n";
    return false;
  }
  return true;
}

int WaitReady(const std::string& target, int timeout) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  const auto deadline = DeadlineIn(timeout);
  while (std::chrono::system_clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::min(deadline, DeadlineIn(1)));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    if (stub->Check(&context, request, &response).ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << target << " did not report SERVING within " << timeout << " s\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stancewire: client for ingest-service and query-service"};
  app.require_subcommand(1);
  int timeout = 10;
  app.add_option("--timeout", timeout, "seconds per call (wait-ready: in all)");

  std::string ingest_target = "127.0.0.1:7400";
  std::vector<std::string> files;
  auto* ingest = app.add_subcommand("ingest", "send NewsItem JSON Lines to ingest-service");
  ingest->add_option("--ingest", ingest_target, "ingest-service HOST:PORT")
      ->envname("STANCEWIRE_INGEST")
      ->capture_default_str();
  ingest->add_option("files", files, "JSON Lines files")->required();

  std::string query_target = "127.0.0.1:7410";
  v1::ListStancesRequest request;
  std::string actor, condition, speaker, format = "text";
  float min_confidence = 0.0f;
  int page_size = 0;
  bool all = false;
  auto* list = app.add_subcommand("list", "list stances from query-service, newest first");
  list->add_option("--query", query_target, "query-service HOST:PORT")
      ->envname("STANCEWIRE_QUERY")
      ->capture_default_str();
  list->add_option("--actor", actor, "canonical id, name or any alias (\"Baku\")");
  list->add_option("--condition", condition, "condition kind (UN_MANDATE) or words");
  list->add_option("--speaker", speaker, "the person who voiced it, any form (\"Fidan\")");
  list->add_option("--min-confidence", min_confidence, "only stances with confidence >= this, 0..1")
      ->check(CLI::Range(0.0f, 1.0f));
  std::string published_after, published_before;
  list->add_option("--published-after", published_after,
                   "only stances published at or after this RFC 3339 time");
  list->add_option("--published-before", published_before,
                   "only stances published before this RFC 3339 time");
  list->add_option("--page-size", page_size, "stances per page");
  list->add_flag("--all", all, "follow next_page_token to the end");
  list->add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));

  std::string ready_target;
  auto* ready = app.add_subcommand("wait-ready", "wait until a server's health is SERVING");
  ready->add_option("--target", ready_target, "HOST:PORT")->required();

  CLI11_PARSE(app, argc, argv);
  if (ingest->parsed()) return Ingest(ingest_target, files, timeout);
  if (list->parsed()) {
    request.set_actor(actor);
    request.set_condition(condition);
    request.set_speaker(speaker);
    request.set_min_confidence(min_confidence);
    request.set_page_size(page_size);
    if (!published_after.empty() &&
        !ParseTime("--published-after", published_after, request.mutable_published_after())) {
      return 2;
    }
    if (!published_before.empty() &&
        !ParseTime("--published-before", published_before, request.mutable_published_before())) {
      return 2;
    }
    return List(query_target, request, all, format, timeout);
  }
  return WaitReady(ready_target, timeout);
}
