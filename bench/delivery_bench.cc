// End-to-end delivery throughput: Ingest acknowledged -> outbox -> stream -> stored, through the
// real ingest-service and query-service binaries on loopback, next to the bare store's batched
// insert rate measured in the same run. See docs/delivery.md.
//
//   build/bench/delivery_bench [--stances 200000] [--clients 32] [--sync full|normal|off]
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/sqlite_db.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "query-service/sqlite_stance_store.h"
#include "stancewire/v1/ingest.grpc.pb.h"

extern char** environ;

namespace {

namespace v1 = stancewire::v1;
using Clock = std::chrono::steady_clock;

// States whose names the extractor knows; each sentence gives one holder one stance.
const char* kHolders[] = {"Turkey", "Egypt",  "Indonesia", "Pakistan", "Jordan", "Qatar", "Italy",
                          "Canada", "Brazil", "Kenya",     "Japan",    "Norway", "Chile", "Ghana",
                          "Spain",  "Peru",   "Mexico",    "Poland",   "Sweden", "Greece"};
const char* kVerbs[] = {"rejected", "welcomed", "backed", "opposed"};

v1::NewsItem MakeItem(int n) {
  v1::NewsItem item;
  item.set_id("bench-" + std::to_string(n));
  item.set_outlet("Bench Wire");
  item.mutable_published()->set_seconds(1760000000 + n);
  std::string text;
  for (size_t i = 0; i < std::size(kHolders); ++i) {
    text += std::string(kHolders[i]) + " " + kVerbs[(n + i) % std::size(kVerbs)] +
            " the proposal for a maritime task force on Monday. ";
  }
  item.set_text(text);
  return item;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    std::perror(args[0]);
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

bool WaitServing(const std::string& address) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckResponse response;
    if (stub->Check(&context, {}, &response).ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int64_t CountStored(const std::string& path) {
  stancewire::SqliteDb db;
  std::string error;
  if (!db.Open(path, /*read_only=*/true, &error)) return -1;
  auto stmt = db.Prepare("SELECT COUNT(*) FROM stances");
  return stmt.ok() && stmt.Step() == SQLITE_ROW ? stmt.ColumnInt(0) : -1;
}

// The bare store: the same stances upserted in batches of the forwarder's size.
double BareStoreRate(const std::filesystem::path& dir, const std::vector<v1::Stance>& stances,
                     size_t batch) {
  std::string error;
  auto store = stancewire::query::SqliteStanceStore::Open((dir / "bare.db").string(), &error);
  if (!store) {
    std::fprintf(stderr, "bare store: %s\n", error.c_str());
    std::exit(1);
  }
  auto start = Clock::now();
  for (size_t i = 0; i < stances.size(); i += batch) {
    std::vector<v1::Stance> chunk(stances.begin() + i,
                                  stances.begin() + std::min(stances.size(), i + batch));
    if (!store->Upsert(chunk).ok()) std::exit(1);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stances.size() / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t target = 200000;
  int clients = 32;
  std::string sync = "full";
  std::string build = STANCEWIRE_BUILD_DIR;
  CLI::App app{"delivery_bench: stances/s end to end vs the bare store"};
  app.add_option("--stances", target, "stances to push end to end (at least)");
  app.add_option("--clients", clients, "concurrent Ingest callers");
  app.add_option("--sync", sync, "outbox fsync policy")
      ->check(CLI::IsMember({"full", "normal", "off"}));
  app.add_option("--build", build, "build folder holding the binaries");
  CLI11_PARSE(app, argc, argv);

  auto dir = std::filesystem::temp_directory_path() /
             ("stancewire-delivery-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const int query_port = FreePort(), ingest_port = FreePort();
  const std::string query_addr = "127.0.0.1:" + std::to_string(query_port);
  const std::string ingest_addr = "127.0.0.1:" + std::to_string(ingest_port);
  const std::string store_path = (dir / "stances.db").string();
  pid_t query = Spawn({build + "/query-service/query-service", "--listen", query_addr, "--store",
                       "sqlite:" + store_path, "--log-level", "warn"},
                      (dir / "query.log").string());
  pid_t ingest =
      Spawn({build + "/ingest-service/ingest-service", "--listen", ingest_addr, "--query",
             query_addr, "--outbox", (dir / "outbox.db").string(), "--outbox-sync", sync,
             "--outbox-limit", "100000000", "--log-level", "warn"},
            (dir / "ingest.log").string());
  if (!WaitServing(query_addr) || !WaitServing(ingest_addr)) {
    std::fprintf(stderr, "services did not start; logs in %s\n", dir.c_str());
    return 1;
  }

  // Stances per item, from one dry run, to know how many items reach the target.
  auto channel = grpc::CreateChannel(ingest_addr, grpc::InsecureChannelCredentials());
  auto stub = v1::IngestService::NewStub(channel);
  std::vector<v1::Stance> sample_stances;
  {
    grpc::ClientContext context;
    v1::ExtractRequest request;
    *request.mutable_item() = MakeItem(0);
    v1::ExtractResponse response;
    if (!stub->Extract(&context, request, &response).ok() || response.stances_size() == 0) {
      std::fprintf(stderr, "the extractor finds no stances in the bench item\n");
      return 1;
    }
    sample_stances.assign(response.stances().begin(), response.stances().end());
  }
  const int per_item = static_cast<int>(sample_stances.size());
  const int items = static_cast<int>((target + per_item - 1) / per_item);

  std::atomic<int> next{0};
  std::atomic<int64_t> acked{0};
  std::atomic<int> failures{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      for (int n; (n = next.fetch_add(1)) < items;) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        v1::IngestRequest request;
        *request.mutable_item() = MakeItem(n);
        v1::IngestResponse response;
        if (stub->Ingest(&context, request, &response).ok()) {
          acked += response.stances_size();
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double ack_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t stored = 0;
  while ((stored = CountStored(store_path)) < acked.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (std::chrono::duration<double>(Clock::now() - start).count() > 600) break;
  }
  const double total_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  kill(ingest, SIGTERM);
  kill(query, SIGTERM);
  waitpid(ingest, nullptr, 0);
  waitpid(query, nullptr, 0);

  // Baseline in the same run: the same number of stances straight into a fresh store.
  std::vector<v1::Stance> bare;
  bare.reserve(acked.load());
  for (int64_t i = 0; i < acked.load(); ++i) {
    v1::Stance s = sample_stances[i % per_item];
    s.set_id("bare-" + std::to_string(i));
    bare.push_back(std::move(s));
  }
  const double bare_rate = BareStoreRate(dir, bare, 500);
  std::filesystem::remove_all(dir);

  const double e2e_rate = stored / total_seconds;
  std::printf(
      "items ingested          %d (%d stances each), %d failed calls, %d clients, outbox sync=%s\n",
      items, per_item, failures.load(), clients, sync.c_str());
  std::printf("stances acknowledged    %lld in %.2f s (%.0f stances/s)\n",
              static_cast<long long>(acked.load()), ack_seconds, acked.load() / ack_seconds);
  std::printf("stances stored          %lld in %.2f s\n", static_cast<long long>(stored),
              total_seconds);
  std::printf("end-to-end              %.0f stances/s\n", e2e_rate);
  std::printf("bare store (batch 500)  %.0f stances/s\n", bare_rate);
  std::printf("ratio end-to-end/bare   %.2f\n", e2e_rate / bare_rate);
  return stored == acked.load() && failures.load() == 0 ? 0 : 1;
}
