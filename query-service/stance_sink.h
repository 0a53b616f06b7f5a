// query-service's intake: the receiving end of ingest-service's long-lived delivery stream.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "query-service/stance_store.h"
#include "query-service/watch_hub.h"
#include "stancewire/v1/delivery.grpc.pb.h"

namespace stancewire::query {

// Runs store writes off the gRPC callback threads, one at a time, in arrival order. Each delivery
// stream has at most one batch here at once (it reads the next only after acknowledging), so the
// queue is bounded by the number of streams.
class StoreWriter {
 public:
  StoreWriter();
  ~StoreWriter();  // finishes queued work, then stops
  void Submit(std::function<void()> work);

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

class StanceSinkService final : public v1::StanceSink::CallbackService {
 public:
  // `watch_hub` (optional) hears of every stance stored new or changed.
  StanceSinkService(StanceStore* store, StoreWriter* writer, size_t max_batch_stances,
                    WatchHub* watch_hub = nullptr)
      : store_(store), writer_(writer), max_batch_stances_(max_batch_stances),
        watch_hub_(watch_hub) {}

  grpc::ServerBidiReactor<v1::DeliverBatch, v1::DeliverAck>* Deliver(
      grpc::CallbackServerContext* context) override;

 private:
  StanceStore* store_;
  StoreWriter* writer_;
  size_t max_batch_stances_;
  WatchHub* watch_hub_;
};

}  // namespace stancewire::query
