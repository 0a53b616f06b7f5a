// ListStances latency at scale (docs/query-api.md): loads N stances (default 1,000,000) into an
// SQLite store in a temporary folder, then measures p50/p99 of ListStances by actor, by condition
// and by both, page size 50 (first page: the list plus its total_size), with 1 and with 32
// concurrent clients
//   - directly on the store: StanceStore::List with the same filter, decoded stances (what a
//     library user gets), and with ListOptions::serialized (what the service asks for);
//   - through a real gRPC server on loopback: QueryServiceImpl in a server process of its own
//     (this binary, re-run with --serve), one channel per client, every response parsed into
//     typed messages, as a deployed client and server would run; the clients are a closed-loop
//     load generator (each keeps one call outstanding, asynchronously; --client-threads gives
//     each a blocking thread instead);
// and prints the ratio, the CPU each side spent per call and the load average around the run.
// Run:
//   build/bench/query_bench                      # 1,000,000 stances, a few minutes on 2 cores
//   build/bench/query_bench --n 100000 --queries 300
//   build/bench/query_bench --smoke              # seconds; what CTest runs
//   build/bench/query_bench --db /tmp/q.db       # keep (and reuse) the loaded database
//   build/bench/query_bench --in-process         # the server in the client's process instead
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/grpc_server.h"
#include "query-service/query_service.h"
#include "query-service/store/sqlite/sqlite_stance_store.h"
#include "stancewire/v1/query.grpc.pb.h"

namespace {

using namespace stancewire;
using Clock = std::chrono::steady_clock;

struct Args {
  int64_t n = 1000000;
  int queries = 2000;  // per case and client count, spread over the clients
  std::vector<int> clients = {1, 32};
  std::string db;  // empty: a temporary folder, removed at exit
  bool smoke = false;
  bool in_process = false;      // serve from this process instead of a child process
  bool client_threads = false;  // one blocking thread per client instead of async calls
  bool serve = false;  // child mode: serve `db` on a free port, print it, run until stdin ends
  // The server process on the upper half of the CPUs, this process (clients and store rows) on
  // the lower half, so that the two never queue for one CPU: on 2 cores, left to the scheduler, a
  // client thread and the server's handler land on the same CPU often enough to double the
  // 1-client p50 of some runs. A client on another machine never competes with the server.
  bool pin = true;
  int serve_cpu_first = -1, serve_cpu_last = -1;  // child mode: the CPUs to pin to
};

// Pins the calling thread, and the threads it starts afterwards, to CPUs [first, last].
bool PinToCpus(int first, int last) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = first; c <= last; ++c) CPU_SET(c, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

constexpr int kActors = 200;
constexpr int kTopics = 30;
constexpr int kOutlets = 100;
const char* const kKinds[] = {"UN_MANDATE",          "CLEAR_MANDATE", "REGIONAL_CONSENSUS",
                              "LOCAL_CONSENT",       "CEASEFIRE",     "PARLIAMENT_APPROVAL",
                              "SECURITY_GUARANTEES", "OTHER"};
// Share of stances carrying each kind (a stance carries 0..3 kinds).
const double kKindWeights[] = {0.30, 0.15, 0.10, 0.08, 0.12, 0.06, 0.04, 0.10};

std::string ActorId(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "A%03d", i);
  return buf;
}
std::string ActorName(int i) { return "Country " + std::to_string(i); }

// A small actor dictionary: ids and names, like the real one resolves aliases.
class BenchActors final : public extraction::ActorDictionary {
 public:
  BenchActors() {
    for (int i = 0; i < kActors; ++i) {
      records_.push_back({ActorId(i), ActorName(i), "state"});
    }
    for (const auto& r : records_) {
      by_alias_[Lower(r.id)] = &r;
      by_alias_[Lower(r.name)] = &r;
    }
  }
  const Record* Resolve(std::string_view alias) const override {
    auto it = by_alias_.find(Lower(std::string(alias)));
    return it == by_alias_.end() ? nullptr : it->second;
  }
  const std::string* ResolvePerson(std::string_view) const override { return nullptr; }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  std::vector<Record> records_;
  std::map<std::string, const Record*> by_alias_;
};

// Zipf-like actor popularity: a few actors hold most stances, as in the news.
class Zipf {
 public:
  Zipf(int n, double s) {
    double sum = 0;
    for (int i = 0; i < n; ++i) cdf_.push_back(sum += 1.0 / std::pow(i + 1, s));
    for (auto& c : cdf_) c /= sum;
  }
  int operator()(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<>(0, 1)(rng);
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

v1::Stance MakeStance(int64_t i, std::mt19937_64& rng, const Zipf& actors, const Zipf& topics) {
  v1::Stance s;
  char id[32];
  std::snprintf(id, sizeof id, "s%09lld", static_cast<long long>(i));
  s.set_id(id);
  s.set_item_id("item-" + std::to_string(i / 3));
  int a = actors(rng);
  s.mutable_actor()->set_id(ActorId(a));
  s.mutable_actor()->set_name(ActorName(a));
  s.mutable_actor()->set_mention(ActorName(a));
  s.mutable_actor()->set_kind("state");
  int t = topics(rng);
  s.set_topic("topic-" + std::to_string(t) + "-force");
  s.set_topic_label("Topic " + std::to_string(t) + " Force");
  s.set_position(static_cast<v1::Position>(1 + rng() % 4));
  std::uniform_real_distribution<> u(0, 1);
  for (size_t k = 0; k < std::size(kKinds); ++k) {
    if (u(rng) < kKindWeights[k]) {
      auto* c = s.add_conditions();
      c->set_kind(kKinds[k]);
      c->set_text(std::string("provided that the ") + kKinds[k] + " requirement is met");
      c->set_start(100);
      c->set_end(140);
    }
  }
  s.set_attribution("diplomatic sources");
  s.mutable_evidence()->set_text(
      "Officials said on Monday that the government would consider taking part in the proposed "
      "force only under conditions that it would set out in the coming weeks, sources said.");
  s.mutable_evidence()->set_start(0);
  s.mutable_evidence()->set_end(170);
  s.set_outlet("Outlet " + std::to_string(rng() % kOutlets));
  s.set_url("https://example.org/news/" + std::to_string(i));
  // Two years of news.
  s.mutable_published()->set_seconds(1700000000 + static_cast<int64_t>(rng() % (730LL * 86400)));
  s.set_confidence(0.8f);
  return s;
}

bool Load(query::SqliteStanceStore* store, int64_t n) {
  int64_t have = 0;
  if (!store->Count(&have).ok()) return false;
  if (have >= n) {
    std::printf("store already holds %lld stances; reusing them\n", static_cast<long long>(have));
    return true;
  }
  std::mt19937_64 rng(42);
  Zipf actors(kActors, 1.0), topics(kTopics, 1.2);
  for (int64_t i = 0; i < have; ++i) MakeStance(i, rng, actors, topics);  // same sequence
  auto start = Clock::now();
  constexpr int64_t kBatch = 10000;
  std::vector<v1::Stance> batch;
  for (int64_t i = have; i < n;) {
    batch.clear();
    for (; i < n && static_cast<int64_t>(batch.size()) < kBatch; ++i) {
      batch.push_back(MakeStance(i, rng, actors, topics));
    }
    auto status = store->Upsert(batch);
    if (!status.ok()) {
      std::fprintf(stderr, "upsert: %s\n", status.error_message().c_str());
      return false;
    }
    if (i % 100000 == 0 || i == n) {
      std::printf("\rloaded %lld / %lld", static_cast<long long>(i), static_cast<long long>(n));
      std::fflush(stdout);
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("\nloaded %lld stances in %.1f s (%.0f/s)\n", static_cast<long long>(n - have), secs,
              (n - have) / secs);
  std::string error;
  if (!store->Analyze(&error)) std::fprintf(stderr, "analyze: %s\n", error.c_str());
  return true;
}

struct Case {
  const char* name;
  // i: query number, so that clients cycle through several actors / kinds.
  std::function<v1::ListStancesRequest(int)> request;
};

// The actors people ask about: the 20 most reported.
std::string QueryActor(int i) { return ActorName((i * 7) % 20); }
std::string QueryKind(int i) { return kKinds[(i * 3) % 5]; }

struct Result {
  double p50_us = 0, p99_us = 0, qps = 0;
  int64_t rows = 0;
  int calls = 0;
};

Result Percentiles(std::vector<double>& us, double wall_s, int64_t rows) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  return {at(0.50), at(0.99), us.size() / wall_s, rows, static_cast<int>(us.size())};
}

// Runs `one(i)` (returns rows) from `clients` threads, `total` calls in all.
template <typename F>
Result Run(int clients, int total, F one) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<int64_t> rows{0};
  std::atomic<int> next{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i; (i = next.fetch_add(1)) < total;) {
        auto t0 = Clock::now();
        int64_t r = one(c, i);
        lat[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        rows += r;
      }
    });
  }
  for (auto& t : threads) t.join();
  double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  return Percentiles(all, wall, rows);
}

// Closed loop through gRPC as a load generator does it: `clients` calls outstanding at all
// times, each client on its own channel issuing its next call when the previous one completes
// (callback API), `total` calls in all. Blocking threads per client (Run) measure the same server
// load, but on a 2-core machine their own hand-offs take CPU the server would otherwise have.
template <typename MakeRequest>
Result RunAsync(const std::vector<std::unique_ptr<v1::QueryService::Stub>>& stubs, int total,
                MakeRequest make_request) {
  struct Client {
    v1::QueryService::Stub* stub;
    std::unique_ptr<grpc::ClientContext> context;
    v1::ListStancesRequest request;
    v1::ListStancesResponse response;  // parsed into typed messages, as any client does
    Clock::time_point sent;
    std::vector<double> latency;
  };
  const int clients = static_cast<int>(stubs.size());
  std::vector<Client> state(clients);
  std::atomic<int> next{0};
  std::atomic<int64_t> rows{0};
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  std::function<void(Client*)> send = [&](Client* c) {
    const int i = next.fetch_add(1);
    if (i >= total) {
      std::lock_guard lock(mu);
      ++finished;
      cv.notify_all();
      return;
    }
    c->context = std::make_unique<grpc::ClientContext>();
    c->context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    c->request = make_request(i);
    c->response.Clear();
    c->sent = Clock::now();
    c->stub->async()->ListStances(
        c->context.get(), &c->request, &c->response, [&, c](grpc::Status status) {
          c->latency.push_back(
              std::chrono::duration<double, std::micro>(Clock::now() - c->sent).count());
          if (!status.ok()) {
            std::fprintf(stderr, "gRPC: %s\n", status.error_message().c_str());
            std::exit(1);
          }
          rows += c->response.stances_size();
          send(c);
        });
  };
  auto start = Clock::now();
  for (int k = 0; k < clients; ++k) {
    state[k].stub = stubs[k].get();
    send(&state[k]);
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished == clients; });
  }
  double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& c : state) all.insert(all.end(), c.latency.begin(), c.latency.end());
  return Percentiles(all, wall, rows);
}

// CPU time (user + system) of this process, or of another one from /proc/PID/stat.
double CpuSeconds(pid_t pid = 0) {
  if (pid == 0) {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  in >> one >> five >> fifteen;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f, %.2f, %.2f", one, five, fifteen);
  return buf;
}

// The server side of the benchmark: QueryServiceImpl over `store` on a free loopback port.
std::unique_ptr<grpc::Server> Serve(query::StanceStore* store, const BenchActors* actors,
                                    std::unique_ptr<query::QueryServiceImpl>* service, int* port) {
  *service = std::make_unique<query::QueryServiceImpl>(store, actors, "bench-key");
  PrepareServerBuilderPlugins();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  return StartServer(options, {service->get()}, port);
}

// The floor under every gRPC figure: ListStances answered with the same bytes every time (a real
// first page by actor, taken from the service once), so no store and no service logic run. What
// a call costs here is gRPC's own cost on this machine for a page of that size.
class CannedListStances final : public v1::QueryService::WithRawCallbackMethod_ListStances<
                                    v1::QueryService::CallbackService> {
 public:
  explicit CannedListStances(grpc::ByteBuffer page) : page_(std::move(page)) {}
  grpc::ServerUnaryReactor* ListStances(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer*,
                                        grpc::ByteBuffer* response) override {
    *response = page_;  // shares the slices, copies no bytes
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const grpc::ByteBuffer page_;
};

std::unique_ptr<grpc::Server> ServeFloor(query::QueryServiceImpl* service,
                                         std::unique_ptr<CannedListStances>* floor, int* port) {
  v1::ListStancesRequest request;
  request.set_actor(QueryActor(0));
  grpc::ByteBuffer page;
  if (!service->DoListStancesWire(request, &page).ok()) return nullptr;
  *floor = std::make_unique<CannedListStances>(std::move(page));
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  return StartServer(options, {floor->get()}, port);
}

// --serve: the child process. Prints "port N floor M", then serves until its stdin is closed (the
// parent exiting, however it exits, closes it).
int ServeUntilStdinCloses(const std::string& db, int cpu_first, int cpu_last) {
  if (cpu_first >= 0 && !PinToCpus(cpu_first, cpu_last)) {
    std::fprintf(stderr, "serve: cannot pin to CPUs %d-%d\n", cpu_first, cpu_last);
    return 1;
  }
  std::string error;
  auto store = query::SqliteStanceStore::Open(db, &error);
  if (!store) {
    std::fprintf(stderr, "serve: open: %s\n", error.c_str());
    return 1;
  }
  BenchActors actors;
  std::unique_ptr<query::QueryServiceImpl> service;
  int port = 0;
  auto server = Serve(store.get(), &actors, &service, &port);
  if (!server) return 1;
  std::unique_ptr<CannedListStances> floor;
  int floor_port = 0;
  auto floor_server = ServeFloor(service.get(), &floor, &floor_port);
  if (!floor_server) return 1;
  std::printf("port %d floor %d\n", port, floor_port);
  std::fflush(stdout);
  char c;
  while (::read(STDIN_FILENO, &c, 1) > 0) {
  }
  floor_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

// Starts `self --serve --db db` with pipes on its stdin and stdout; returns its pid and ports.
bool SpawnServer(const std::string& db, int cpu_first, int cpu_last, pid_t* pid, int* port,
                 int* floor_port, int* stdin_fd) {
  int in[2], out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, in[1]);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {self, "--serve", "--db", db};
  if (cpu_first >= 0) {
    args.insert(args.end(),
                {"--serve-cpus", std::to_string(cpu_first) + "-" + std::to_string(cpu_last)});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = posix_spawn(pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) return false;
  std::string line;
  for (char c; ::read(out[0], &c, 1) == 1 && c != '\n';) line += c;
  ::close(out[0]);
  *stdin_fd = in[1];
  return std::sscanf(line.c_str(), "port %d floor %d", port, floor_port) == 2;
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--n") {
      a.n = std::stoll(value());
    } else if (k == "--queries") {
      a.queries = std::stoi(value());
    } else if (k == "--db") {
      a.db = value();
    } else if (k == "--clients") {
      a.clients.clear();
      std::string v = value();
      for (size_t p = 0; p < v.size();) {
        size_t comma = v.find(',', p);
        a.clients.push_back(std::stoi(v.substr(p, comma - p)));
        p = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else if (k == "--client-threads") {
      a.client_threads = true;
    } else if (k == "--in-process") {
      a.in_process = true;
    } else if (k == "--serve") {
      a.serve = true;
    } else if (k == "--serve-cpus") {
      if (std::sscanf(value().c_str(), "%d-%d", &a.serve_cpu_first, &a.serve_cpu_last) != 2) {
        std::fprintf(stderr, "--serve-cpus wants FIRST-LAST\n");
        std::exit(2);
      }
    } else if (k == "--no-pin") {
      a.pin = false;
    } else if (k == "--smoke") {
      a.smoke = true;
      a.n = 5000;
      a.queries = 64;
      a.clients = {1, 4};
    } else if (k == "--help" || k == "-h") {
      std::printf(
          "query_bench [--n STANCES] [--queries PER_CASE] [--clients 1,32] [--db PATH] "
          "[--in-process] [--client-threads] [--no-pin] [--smoke]\n");
      std::exit(0);
    } else {
      std::fprintf(stderr, "unknown flag %s (try --help)\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  if (args.serve) return ServeUntilStdinCloses(args.db, args.serve_cpu_first, args.serve_cpu_last);
  // Before any thread starts, so that every thread of this process inherits it.
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  const bool pin = args.pin && !args.in_process && cpus >= 2;
  if (pin && !PinToCpus(0, cpus / 2 - 1)) {
    std::fprintf(stderr, "cannot pin to CPUs 0-%d (try --no-pin)\n", cpus / 2 - 1);
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::filesystem::path tmp;
  std::string db = args.db;
  if (db.empty()) {
    tmp = std::filesystem::temp_directory_path() /
          ("stancewire-query-bench-" + std::to_string(::getpid()));
    db = (tmp / "stances.db").string();
  }
  std::string error;
  auto store = query::SqliteStanceStore::Open(db, &error);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    return 1;
  }
  if (!Load(store.get(), args.n)) return 1;

  BenchActors actors;
  // The server runs in a process of its own, as deployed: in one process, client and server
  // threads would poll one epoll set and run each other's work.
  std::unique_ptr<query::QueryServiceImpl> in_process_service;
  std::unique_ptr<grpc::Server> in_process_server;
  pid_t server_pid = 0;
  int server_stdin = -1;
  std::unique_ptr<CannedListStances> in_process_floor;
  std::unique_ptr<grpc::Server> in_process_floor_server;
  int port = 0, floor_port = 0;
  if (args.in_process) {
    in_process_server = Serve(store.get(), &actors, &in_process_service, &port);
    if (!in_process_server) return 1;
    in_process_floor_server = ServeFloor(in_process_service.get(), &in_process_floor, &floor_port);
    if (!in_process_floor_server) return 1;
  } else if (!SpawnServer(db, pin ? cpus / 2 : -1, pin ? cpus - 1 : -1, &server_pid, &port,
                          &floor_port, &server_stdin)) {
    std::fprintf(stderr, "could not start the server process\n");
    return 1;
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  ServerOptions options;

  const std::vector<Case> cases = {
      {"by actor",
       [](int i) {
         v1::ListStancesRequest r;
         r.set_actor(QueryActor(i));
         return r;
       }},
      {"by condition",
       [](int i) {
         v1::ListStancesRequest r;
         r.set_condition(QueryKind(i));
         return r;
       }},
      {"actor+condition",
       [](int i) {
         v1::ListStancesRequest r;
         r.set_actor(QueryActor(i));
         r.set_condition(QueryKind(i));
         return r;
       }},
  };

  const std::string load_before = LoadAverage();
  std::printf(
      "\n%lld stances, page size 50 (first page + total_size), %d queries per row; "
      "server %s\n",
      static_cast<long long>(args.n), args.queries,
      args.in_process ? "in this process" : "in its own process");
  if (pin) {
    std::printf(
        "pinned: server on CPUs %d-%d; clients and store rows on CPUs 0-%d (--no-pin: all "
        "share every CPU)\n",
        cpus / 2, cpus - 1, cpus / 2 - 1);
  }
  std::printf(
      "store: StanceStore::List, decoded stances; wire: the same with "
      "ListOptions::serialized; gRPC: ListStances, response parsed by the client;\n"
      "CPU/call: CPU time of the server process and of the client side (this process) "
      "per gRPC call\n\n");
  std::printf("%-16s %7s | %8s %8s %6s | %8s | %8s %8s %6s | %6s | %10s %10s\n", "query", "clients",
              "store p50", "p99", "qps", "wire p50", "gRPC p50", "p99", "qps", "p50 x",
              "server CPU", "client CPU");
  struct Target {
    std::string name;
    double value;
  };
  std::vector<Target> ratio_1, p99_32;
  bool ok = true;
  for (const auto& c : cases) {
    // Same filters as the service builds, for the bare store.
    auto filter_of = [&](const v1::ListStancesRequest& r) {
      query::StanceFilter f;
      if (!r.actor().empty()) f.actor_ids = {actors.Resolve(r.actor())->id};
      f.condition = r.condition();
      return f;
    };
    for (int clients : args.clients) {
      std::vector<std::unique_ptr<v1::QueryService::Stub>> stubs;
      for (int k = 0; k < clients; ++k) {
        auto channel_args = ClientChannelArguments(options);
        channel_args.SetInt("stancewire.bench_client", k);  // a connection per client
        stubs.push_back(v1::QueryService::NewStub(
            grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), channel_args)));
      }
      auto store_list = [&](int i, bool serialized) -> int64_t {
        query::ListOptions lo;
        lo.limit = 50;
        lo.count_total = true;
        lo.serialized = serialized;
        query::StancePage page;
        auto status = store->List(filter_of(c.request(i)), lo, &page);
        if (!status.ok()) {
          std::fprintf(stderr, "store: %s\n", status.error_message().c_str());
          std::exit(1);
        }
        benchmark::DoNotOptimize(page);
        return static_cast<int64_t>(serialized ? page.serialized.size() : page.stances.size());
      };
      auto via_store = [&](int, int i) { return store_list(i, false); };
      auto via_wire = [&](int, int i) { return store_list(i, true); };
      auto via_grpc = [&](int client, int i) -> int64_t {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::ListStancesResponse response;
        auto status = stubs[client]->ListStances(&ctx, c.request(i), &response);
        if (!status.ok()) {
          std::fprintf(stderr, "gRPC: %s\n", status.error_message().c_str());
          std::exit(1);
        }
        return response.stances_size();
      };
      // Warm up with the very queries that are measured, on every path: page cache, statement
      // caches, connections, and each process's own mapping of the file. The server maps the
      // store afresh; with a shorter warm-up most measured queries would touch pages it had not
      // mapped yet (a page fault each, several microseconds on this VM), which the bench's own
      // store path, run first over the same queries, would not.
      const int warm = std::max(clients * 4, args.queries);
      auto grpc_run = [&](int total) {
        return args.client_threads ? Run(clients, total, via_grpc)
                                   : RunAsync(stubs, total, c.request);
      };
      Run(clients, warm, via_store);
      grpc_run(warm);
      Result s = Run(clients, args.queries, via_store);
      Result w = Run(clients, args.queries, via_wire);
      const double server_cpu0 = server_pid ? CpuSeconds(server_pid) : 0;
      const double client_cpu0 = CpuSeconds();
      Result g = grpc_run(args.queries);
      const double client_cpu = (CpuSeconds() - client_cpu0) / g.calls * 1e6;
      const double server_cpu =
          server_pid ? (CpuSeconds(server_pid) - server_cpu0) / g.calls * 1e6 : 0;
      ok = ok && s.rows == g.rows && w.rows == g.rows && g.rows > 0;
      char server_cpu_text[32] = "-";  // in one process the two cannot be told apart
      if (server_pid) std::snprintf(server_cpu_text, sizeof server_cpu_text, "%.0fus", server_cpu);
      std::printf(
          "%-16s %7d | %7.0fus %6.0fus %6.0f | %6.0fus | %6.0fus %6.0fus %6.0f | %5.2fx | %10s "
          "%8.0fus\n",
          c.name, clients, s.p50_us, s.p99_us, s.qps, w.p50_us, g.p50_us, g.p99_us, g.qps,
          g.p50_us / s.p50_us, server_cpu_text, client_cpu);
      std::fflush(stdout);
      if (clients == 1) ratio_1.push_back({c.name, g.p50_us / s.p50_us});
      if (clients == 32) p99_32.push_back({c.name, g.p99_us / 1000});
    }
  }
  // The same page size through gRPC with nothing behind it: what gRPC alone costs here.
  const std::string floor_address = "127.0.0.1:" + std::to_string(floor_port);
  std::vector<Target> floor_32;
  for (int clients : args.clients) {
    std::vector<std::unique_ptr<v1::QueryService::Stub>> stubs;
    for (int k = 0; k < clients; ++k) {
      auto channel_args = ClientChannelArguments(options);
      channel_args.SetInt("stancewire.bench_client", k);
      stubs.push_back(v1::QueryService::NewStub(grpc::CreateCustomChannel(
          floor_address, grpc::InsecureChannelCredentials(), channel_args)));
    }
    auto request = [](int) { return v1::ListStancesRequest(); };
    RunAsync(stubs, std::max(clients * 4, args.queries / 10), request);
    const double server_cpu0 = server_pid ? CpuSeconds(server_pid) : 0;
    const double client_cpu0 = CpuSeconds();
    Result g = RunAsync(stubs, args.queries, request);
    const double client_cpu = (CpuSeconds() - client_cpu0) / g.calls * 1e6;
    char server_cpu_text[32] = "-";
    if (server_pid) {
      std::snprintf(server_cpu_text, sizeof server_cpu_text, "%.0fus",
                    (CpuSeconds(server_pid) - server_cpu0) / g.calls * 1e6);
    }
    std::printf("%-16s %7d | %8s %8s %6s | %8s | %6.0fus %6.0fus %6.0f | %6s | %10s %8.0fus\n",
                "gRPC floor", clients, "-", "-", "-", "-", g.p50_us, g.p99_us, g.qps, "-",
                server_cpu_text, client_cpu);
    if (clients == 32) floor_32.push_back({"gRPC floor", g.p99_us / 1000});
  }
  std::printf(
      "(gRPC floor: ListStances answered with the same bytes every call, a first page by actor, "
      "by a server that runs no store and no service logic)\n");
  std::printf("\nload average (1, 5, 15 min) before: %s, after: %s\n", load_before.c_str(),
              LoadAverage().c_str());
  if (!ratio_1.empty()) {
    std::printf("target gRPC p50 <= 2x store p50 at 1 client:");
    for (const auto& t : ratio_1) std::printf("  %s %.2fx", t.name.c_str(), t.value);
    std::printf("\n");
  }
  if (!p99_32.empty()) {
    std::printf("target gRPC p99 <= 5 ms at 32 clients:      ");
    for (const auto& t : p99_32) std::printf("  %s %.1f ms", t.name.c_str(), t.value);
    for (const auto& t : floor_32) std::printf("  (%s %.1f ms)", t.name.c_str(), t.value);
    std::printf("\n");
  }
  if (args.smoke) {
    for (const auto& c : cases) {
      query::StanceFilter f;
      auto r = c.request(0);
      if (!r.actor().empty()) f.actor_ids = {actors.Resolve(r.actor())->id};
      f.condition = r.condition();
      query::ListOptions lo;
      lo.limit = 50;
      std::printf("plan %s:\n%s", c.name, store->ExplainList(f, lo).c_str());
    }
  }
  if (in_process_server) {
    in_process_floor_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    in_process_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  in_process_server.reset();
  if (server_pid) {
    ::close(server_stdin);
    int wstatus = 0;
    ::waitpid(server_pid, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      std::fprintf(stderr, "the server process failed\n");
      ok = false;
    }
  }
  store.reset();
  if (!tmp.empty()) std::filesystem::remove_all(tmp);
  if (!ok) {
    std::fprintf(stderr, "store and gRPC returned different row counts, or none\n");
    return 1;
  }
  return 0;
}
