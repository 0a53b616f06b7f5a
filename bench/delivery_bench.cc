// End-to-end delivery throughput: Ingest acknowledged -> outbox -> stream -> stored and
// queryable, through the real ingest-service and query-service binaries on loopback, next to the
// bare store's batched upsert rate over the same stances, measured in the same run. See
// docs/delivery.md.
//
//   build/bench/delivery_bench [--stances 1000000] [--clients 32] [--sync full|normal|off]
//                              [--batch-size 500] [--max-in-flight 32] [--build DIR] [--smoke]
//
// "Stored and queryable" is observed the way a user would: ListStances (page size 1) on
// query-service, whose total_size is polled every 50 ms (20 ms once the calls are done). After the
// run the services are stopped, the end-to-end store is read back to check that the stored ids are
// exactly the acknowledged ones, and the same stances (same ids, actors, published times, bodies)
// are upserted into a fresh store, opened the way query-service opens it, in batches of the
// forwarder's batch size.
#include <absl/synchronization/mutex.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "query-service/stance_sink.h"
#include "query-service/store/stance_store.h"
#include "stancewire/v1/ingest.grpc.pb.h"
#include "stancewire/v1/query.grpc.pb.h"

extern char** environ;

namespace {

namespace v1 = stancewire::v1;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

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

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// A service the bench started.
struct Child {
  pid_t pid = 0;
  bool exited = false;

  // False once the process has exited (and is reaped): a crash ends the run instead of a wait.
  bool Running() {
    if (!exited && waitpid(pid, nullptr, WNOHANG) == pid) exited = true;
    return !exited;
  }
  void Stop() {
    if (exited || pid == 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    exited = true;
  }
};

bool WaitServing(const std::string& address, Child* child) {
  for (int i = 0; i < 1200 && child->Running(); ++i) {
    // A fresh channel with a subchannel of its own each time: a channel that saw the port
    // refused waits out gRPC's reconnect backoff (a second and more) before trying again.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckResponse response;
    if (stub->Check(&context, {}, &response).ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// CPU seconds (user + system, all threads) a child has used so far, from /proc/PID/stat.
double ProcessCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields;
  size_t pos = close + 2;
  while (pos < stat.size() && fields.size() < 13) {
    size_t end = stat.find(' ', pos);
    fields.push_back(stat.substr(pos, end - pos));
    pos = end == std::string::npos ? stat.size() : end + 1;
  }
  if (fields.size() < 13) return -1;
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
}

double RusageCpu(int who) {
  rusage ru;
  getrusage(who, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// Stances query-service reports as stored (ListStances total_size); -1 when the call fails.
int64_t StoredTotal(v1::QueryService::Stub* stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListStancesRequest request;
  request.set_page_size(1);
  v1::ListStancesResponse response;
  if (!stub->ListStances(&context, request, &response).ok()) return -1;
  return response.total_size();
}

// Every stance in the store, oldest first ((published, id) ascending: delivery order, give or
// take the interleaving of concurrent Ingest calls).
bool ReadAll(stancewire::query::StanceStore* store, std::vector<v1::Stance>* out) {
  stancewire::query::ListOptions options;
  options.limit = 1000;
  options.oldest_first = true;
  do {
    stancewire::query::StancePage page;
    grpc::Status status = store->List({}, options, &page);
    if (!status.ok()) {
      std::fprintf(stderr, "reading the store back: %s\n", status.error_message().c_str());
      return false;
    }
    for (auto& s : page.stances) out->push_back(std::move(s));
    options.after = page.next;
  } while (options.after);
  return true;
}

// The stance ids in an IngestResponse, read straight off the wire: decoding every stance would
// make the bench itself the busiest process on the machine.
bool ResponseIds(const grpc::ByteBuffer& buffer, std::vector<std::string>* ids) {
  using google::protobuf::internal::WireFormatLite;
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  constexpr uint32_t kLengthDelimitedField1 =
      WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  static_assert(v1::IngestResponse::kStancesFieldNumber == 1 && v1::Stance::kIdFieldNumber == 1);
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  while (uint32_t tag = in.ReadTag()) {
    if (tag != kLengthDelimitedField1) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length;
    if (!in.ReadVarint32(&length)) return false;
    auto limit = in.PushLimit(static_cast<int>(length));
    std::string id;
    while (uint32_t field = in.ReadTag()) {
      if (field == kLengthDelimitedField1) {
        if (!WireFormatLite::ReadString(&in, &id)) return false;
      } else if (!WireFormatLite::SkipField(&in, field)) {
        return false;
      }
    }
    if (!in.ConsumedEntireMessage()) return false;
    in.PopLimit(limit);
    ids->push_back(std::move(id));
  }
  return in.ConsumedEntireMessage();
}

// `concurrency` Ingest calls in flight until `items` items are sent, on gRPC's callback API: each
// completion starts the next call, so no client thread sleeps and wakes per call.
class IngestLoad {
 public:
  IngestLoad(std::shared_ptr<grpc::Channel> channel, int items, int concurrency)
      : stub_(std::move(channel)), items_(items), concurrency_(concurrency) {}

  // Returns once every call has completed.
  void Run() {
    for (int i = 0; i < concurrency_; ++i) StartNext();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return completed_ == items_; });
  }

  int64_t acked() const { return acked_.load(); }
  int failures() const { return failures_.load(); }
  bool done() const { return done_.load(); }
  // Every stance id acknowledged; after Run.
  std::vector<std::string>& ids() { return ids_; }

 private:
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request, response;
  };

  void StartNext() {
    const int n = next_.fetch_add(1);
    if (n >= items_) return;
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::IngestRequest request;
    *request.mutable_item() = MakeItem(n);
    bool own = false;
    grpc::GenericSerialize<grpc::ProtoBufferWriter, v1::IngestRequest>(request, &call->request,
                                                                       &own);
    stub_.UnaryCall(&call->context, "/stancewire.v1.IngestService/Ingest", {}, &call->request,
                    &call->response, [this, call](grpc::Status status) {
                      std::vector<std::string> ids;
                      if (!status.ok() || !ResponseIds(call->response, &ids)) {
                        ++failures_;
                        ids.clear();
                      }
                      delete call;
                      acked_ += static_cast<int64_t>(ids.size());
                      StartNext();
                      std::lock_guard lock(mu_);
                      ids_.insert(ids_.end(), std::make_move_iterator(ids.begin()),
                                  std::make_move_iterator(ids.end()));
                      if (++completed_ == items_) {
                        done_ = true;
                        cv_.notify_all();
                      }
                    });
  }

  grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub_;
  const int items_;
  const int concurrency_;
  std::atomic<int> next_{0};
  std::atomic<int64_t> acked_{0};
  std::atomic<int> failures_{0};
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int completed_ = 0;
  std::vector<std::string> ids_;
};

struct Cpu {
  double ingest = 0, query = 0, bench = 0, poller = 0;
};

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil checks lock order on every mutex by default (gRPC takes dozens per call); the
  // services turn that off (common/grpc_server.cc), so do the bench's clients.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A million by default: the rate is a sustained one. In the first second or so a fresh
  // query-service fills its page cache and grows its id map and heap (tens of thousands of page
  // faults, dear on this VM), which weighs on a 200,000-stance run of four seconds.
  int64_t target = 1000000;
  int clients = 32;
  std::string sync = "full";
  size_t batch = 500;
  size_t max_in_flight = 32;
  std::string build = STANCEWIRE_BUILD_DIR;
  bool smoke = false;
  bool keep = false;
  std::string log_level = "warn";
  CLI::App app{"delivery_bench: stances/s end to end vs the bare store"};
  app.add_option("--stances", target, "stances to push end to end (at least)");
  app.add_option("--clients", clients, "concurrent Ingest callers")->check(CLI::Range(1, 1024));
  app.add_option("--sync", sync, "outbox fsync policy")
      ->check(CLI::IsMember({"full", "normal", "off"}));
  app.add_option("--batch-size", batch, "ingest-service --batch-size; also the bare store's batch")
      ->check(CLI::Range(1, 10000));
  app.add_option("--max-in-flight", max_in_flight, "ingest-service --max-in-flight")
      ->check(CLI::Range(1, 1024));
  app.add_option("--build", build, "build folder holding the binaries");
  app.add_flag("--smoke", smoke, "seconds: 2,000 stances from 4 clients; checks it still works");
  app.add_flag("--keep", keep, "keep the temporary folder (stores, outbox, service logs)");
  app.add_option("--log-level", log_level, "the services' --log-level");
  CLI11_PARSE(app, argc, argv);
  if (smoke) {
    target = 2000;
    clients = 4;
  }

  auto dir = std::filesystem::temp_directory_path() /
             ("stancewire-delivery-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string load_before = LoadAverage();
  const int query_port = FreePort(), ingest_port = FreePort();
  const std::string query_addr = "127.0.0.1:" + std::to_string(query_port);
  const std::string ingest_addr = "127.0.0.1:" + std::to_string(ingest_port);
  const std::string store_path = (dir / "stances.db").string();
  Child query, ingest;
  // Ingest-service first: it drains its outbox into query-service while it stops.
  auto stop_services = [&] {
    ingest.Stop();
    query.Stop();
  };
  query.pid = Spawn({build + "/query-service/query-service", "--listen", query_addr, "--store",
                     "sqlite:" + store_path, "--log-level", log_level, "--insecure-delivery"},
                    (dir / "query.log").string());
  // query-service first, so that the forwarder's first connection succeeds instead of waiting
  // out gRPC's reconnect backoff during the measurement.
  bool started = WaitServing(query_addr, &query);
  if (started) {
    ingest.pid =
        Spawn({build + "/ingest-service/ingest-service", "--listen", ingest_addr, "--query",
               query_addr, "--outbox", (dir / "outbox.db").string(), "--outbox-sync", sync,
               "--outbox-limit", "100000000", "--batch-size", std::to_string(batch),
               "--max-in-flight", std::to_string(max_in_flight), "--log-level", log_level},
              (dir / "ingest.log").string());
    started = WaitServing(ingest_addr, &ingest);
  }
  if (!started) {
    std::fprintf(stderr, "services did not start; logs in %s\n", dir.c_str());
    stop_services();
    return 1;
  }

  // Stances per item, from one dry run, to know how many items reach the target.
  auto channel = Connect(ingest_addr);
  auto stub = v1::IngestService::NewStub(channel);
  int per_item = 0;
  {
    grpc::ClientContext context;
    v1::ExtractRequest request;
    *request.mutable_item() = MakeItem(0);
    v1::ExtractResponse response;
    if (!stub->Extract(&context, request, &response).ok() || response.stances_size() == 0) {
      std::fprintf(stderr, "the extractor finds no stances in the bench item\n");
      stop_services();
      return 1;
    }
    per_item = response.stances_size();
  }
  const int items = static_cast<int>((target + per_item - 1) / per_item);
  auto query_stub = v1::QueryService::NewStub(Connect(query_addr));
  if (StoredTotal(query_stub.get()) != 0) {
    std::fprintf(stderr, "query-service's store is not empty at the start\n");
    stop_services();
    return 1;
  }

  IngestLoad load(channel, items, clients);
  const Cpu cpu_start{ProcessCpu(ingest.pid), ProcessCpu(query.pid), RusageCpu(RUSAGE_SELF),
                      RusageCpu(RUSAGE_THREAD)};
  const auto start = Clock::now();
  std::atomic<int64_t> ack_done_nanos{0};
  std::thread clients_thread([&] {
    load.Run();
    ack_done_nanos = (Clock::now() - start).count();
  });

  // Poll what query-service serves until every acknowledged stance is there.
  int64_t stored = 0;
  int polls = 0;
  bool run_failed = false;
  for (;;) {
    // Every 50 ms while Ingest calls go on, every 20 ms for the tail: each poll costs
    // query-service a little CPU, and only the last one decides the figure.
    const bool clients_done = load.done();
    std::this_thread::sleep_for(std::chrono::milliseconds(clients_done ? 20 : 50));
    stored = StoredTotal(query_stub.get());
    ++polls;
    if (clients_done && stored >= load.acked()) break;
    if (!ingest.Running() || !query.Running()) {
      std::fprintf(stderr, "a service exited during the run; logs in %s\n", dir.c_str());
      run_failed = true;
      break;
    }
    if (Seconds(Clock::now() - start) > 600) {
      std::fprintf(stderr, "timed out: %lld of %lld stances stored; logs in %s\n",
                   static_cast<long long>(stored), static_cast<long long>(load.acked()),
                   dir.c_str());
      run_failed = true;
      break;
    }
  }
  const double total_seconds = Seconds(Clock::now() - start);
  const Cpu cpu_end{ProcessCpu(ingest.pid), ProcessCpu(query.pid), RusageCpu(RUSAGE_SELF),
                    RusageCpu(RUSAGE_THREAD)};
  const std::string load_after = LoadAverage();
  clients_thread.join();
  const double ack_seconds = ack_done_nanos.load() * 1e-9;
  stub.reset();
  query_stub.reset();
  channel.reset();
  stop_services();
  if (run_failed) return 1;

  // The stored ids must be exactly the acknowledged ones; and the bare store gets the same
  // stances, as stored, in the forwarder's batch size.
  std::string error;
  std::vector<v1::Stance> delivered;
  {
    auto e2e_store = stancewire::query::OpenStanceStore("sqlite:" + store_path, &error);
    if (!e2e_store || !ReadAll(e2e_store.get(), &delivered)) {
      std::fprintf(stderr, "cannot read the end-to-end store back: %s\n", error.c_str());
      return 1;
    }
  }
  std::vector<std::string> stored_ids;
  stored_ids.reserve(delivered.size());
  for (const auto& s : delivered) stored_ids.push_back(s.id());
  std::sort(stored_ids.begin(), stored_ids.end());
  std::vector<std::string>& acked_ids = load.ids();
  std::sort(acked_ids.begin(), acked_ids.end());
  const bool same_ids = stored_ids == acked_ids;
  const auto distinct_acked =
      static_cast<int64_t>(std::unique(acked_ids.begin(), acked_ids.end()) - acked_ids.begin());

  // The bare store at the forwarder's batch size, and at the largest commit query-service's store
  // writer makes of batches that wait (StoreWriter's max_stances_per_commit): the store at its
  // best.
  struct Bare {
    size_t batch;
    double seconds = 0;
    double rate = 0;
  };
  std::vector<Bare> bares = {
      {batch}, {std::max(batch, stancewire::query::StoreWriter::kDefaultMaxStancesPerCommit)}};
  for (Bare& bare : bares) {
    const std::string path = (dir / ("bare-" + std::to_string(bare.batch) + ".db")).string();
    auto bare_store = stancewire::query::OpenStanceStore("sqlite:" + path, &error);
    if (!bare_store) {
      std::fprintf(stderr, "bare store: %s\n", error.c_str());
      return 1;
    }
    Clock::duration bare_time{};
    std::vector<v1::Stance> chunk;
    for (size_t i = 0; i < delivered.size(); i += bare.batch) {
      chunk.assign(delivered.begin() + i,
                   delivered.begin() + std::min(delivered.size(), i + bare.batch));
      stancewire::query::UpsertResult result;  // as query-service's store writer asks for it
      auto t0 = Clock::now();
      grpc::Status status = bare_store->Upsert(chunk, &result);
      bare_time += Clock::now() - t0;
      if (!status.ok()) {
        std::fprintf(stderr, "bare store: %s\n", status.error_message().c_str());
        return 1;
      }
    }
    bare.seconds = Seconds(bare_time);
    bare.rate = delivered.size() / bare.seconds;
  }
  const int64_t acked = load.acked();
  const double e2e_rate = acked / total_seconds;
  const double n = static_cast<double>(std::max<int64_t>(1, acked));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const Cpu used{cpu_end.ingest - cpu_start.ingest, cpu_end.query - cpu_start.query,
                 cpu_end.bench - cpu_start.bench, cpu_end.poller - cpu_start.poller};
  std::printf(
      "items ingested          %d (%d stances each), %d failed calls, %d calls in flight, "
      "outbox sync=%s, batch %zu, %zu batches in flight\n",
      items, per_item, load.failures(), clients, sync.c_str(), batch, max_in_flight);
  std::printf("load average            %s before, %s after (1, 5, 15 min)\n", load_before.c_str(),
              load_after.c_str());
  std::printf("stances acknowledged    %lld in %.2f s (%.0f stances/s)\n",
              static_cast<long long>(acked), ack_seconds, acked / ack_seconds);
  std::printf("stances stored          %lld (ListStances total_size) in %.2f s, %d polls\n",
              static_cast<long long>(stored), total_seconds, polls);
  std::printf("stored ids              %s the acknowledged ids (%zu stored, %lld distinct acked)\n",
              same_ids ? "equal" : "DIFFER FROM", stored_ids.size(),
              static_cast<long long>(distinct_acked));
  std::printf("end-to-end              %.0f stances/s\n", e2e_rate);
  for (const Bare& bare : bares) {
    std::printf("bare store, batch %-6zu%.0f stances/s (%zu stances, %.2f s in Upsert)\n",
                bare.batch, bare.rate, delivered.size(), bare.seconds);
  }
  std::printf("ratio end-to-end/bare   %.2f (batch %zu), %.2f (batch %zu)\n",
              e2e_rate / bares[0].rate, bares[0].batch, e2e_rate / bares[1].rate, bares[1].batch);
  std::printf("CPU in the %.2f s        (user+system; us per stance delivered)\n", total_seconds);
  const std::pair<const char*, double> rows[] = {{"ingest-service", used.ingest},
                                                 {"query-service", used.query},
                                                 {"bench clients", used.bench - used.poller},
                                                 {"bench poller", used.poller}};
  for (const auto& [who, cpu] : rows) {
    std::printf("  %-22s%6.2f s  %5.1f us\n", who, cpu, cpu / n * 1e6);
  }
  std::printf("  %-22s%6.2f s  %5.1f us  (%.0f%% of %u cores)\n", "all",
              used.ingest + used.query + used.bench,
              (used.ingest + used.query + used.bench) / n * 1e6,
              100 * (used.ingest + used.query + used.bench) / (cores * total_seconds), cores);
  if (keep) {
    std::printf("kept                    %s\n", dir.c_str());
  } else {
    std::filesystem::remove_all(dir);
  }
  return same_ids && load.failures() == 0 && stored == acked ? 0 : 1;
}
