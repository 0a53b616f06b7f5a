// The forwarder: streams the outbox to query-service over one long-lived gRPC stream, with
// sequence numbers, batching and acknowledgements; reconnects with exponential backoff and jitter
// and resumes from the last acknowledgement.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "ingest-service/outbox.h"

namespace stancewire::ingest {

struct ForwarderOptions {
  size_t batch_stances = 500;  // stances per DeliverBatch (whole outbox entries: see Outbox::Read)
  // Bytes per DeliverBatch, well below the gRPC message limit (--max-message-bytes, 8 MiB).
  size_t batch_bytes = 4 * 1024 * 1024;
  size_t max_in_flight_batches = 32;  // sent and not yet acknowledged
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{10000};
  std::chrono::milliseconds connect_timeout{5000};
  // The stream is renewed after this long, so it never runs without a deadline.
  std::chrono::seconds stream_max_age{600};
  // Sent as `authorization: Bearer TOKEN` when query-service requires tokens.
  std::string bearer_token;
};

class Forwarder {
 public:
  Forwarder(Outbox* outbox, std::shared_ptr<grpc::Channel> channel, ForwarderOptions options);
  ~Forwarder();

  void Start();
  // Keeps delivering until the outbox is empty or `deadline` passes, then stops. Returns the
  // number of stances still undelivered (they stay in the outbox for the next start).
  int64_t Stop(std::chrono::system_clock::time_point deadline);

  bool connected() const { return connected_.load(); }

 private:
  void Run();
  // One stream's life: returns true when at least one batch was acknowledged on it.
  bool RunStream();
  void SleepBackoff(std::chrono::milliseconds delay);

  Outbox* outbox_;
  std::shared_ptr<grpc::Channel> channel_;
  const ForwarderOptions options_;

  std::atomic<bool> stopping_{false};  // stop as soon as possible
  std::atomic<bool> draining_{false};  // stop once the outbox is empty
  std::atomic<bool> connected_{false};
  std::mutex context_mu_;
  grpc::ClientContext* context_ = nullptr;  // the live stream's, for cancelling it on Stop
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread thread_;
};

}  // namespace stancewire::ingest
