#include "query-service/stance_sink.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace stancewire::query {

StoreWriter::StoreWriter() : thread_([this] { Run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreWriter::Submit(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void StoreWriter::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to do
    auto work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    lock.lock();
  }
}

namespace {

// One delivery stream: read a batch, store it, acknowledge it, read the next. Reading only after
// the acknowledgement is the backpressure: a slow store slows the sender instead of filling memory.
class DeliverReactor final : public grpc::ServerBidiReactor<v1::DeliverBatch, v1::DeliverAck> {
 public:
  DeliverReactor(StanceStore* store, StoreWriter* writer, size_t max_batch_stances,
                 WatchHub* watch_hub, std::string peer)
      : store_(store), writer_(writer), max_batch_stances_(max_batch_stances),
        watch_hub_(watch_hub), peer_(std::move(peer)) {
    spdlog::info("delivery stream opened by {}", peer_);
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the sender half-closed or went away
      Finish(grpc::Status::OK);
      return;
    }
    if (grpc::Status invalid = Validate(); !invalid.ok()) {
      spdlog::warn("delivery from {} refused: {}", peer_, invalid.error_message());
      Finish(invalid);
      return;
    }
    writer_->Submit([this] {
      std::vector<v1::Stance> stances(batch_.stances().begin(), batch_.stances().end());
      UpsertResult stored;
      grpc::Status status = store_->Upsert(stances, &stored);
      if (!status.ok()) {
        spdlog::error("storing batch {} from {} failed: {}", batch_.seq(), peer_,
                      status.error_message());
        // UNAVAILABLE tells the sender to retry later; nothing was acknowledged.
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, status.error_message()));
        return;
      }
      if (watch_hub_ && !stored.changed.empty()) {
        std::vector<v1::Stance> changed;
        changed.reserve(stored.changed.size());
        for (size_t i : stored.changed) changed.push_back(std::move(stances[i]));
        watch_hub_->Publish(changed);
      }
      ack_.set_seq(batch_.seq());
      StartWrite(&ack_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "acknowledgement could not be sent"));
      return;
    }
    StartRead(&batch_);
  }

  void OnDone() override {
    spdlog::info("delivery stream from {} closed", peer_);
    delete this;
  }

 private:
  grpc::Status Validate() const {
    if (static_cast<size_t>(batch_.stances_size()) > max_batch_stances_) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "batch of " + std::to_string(batch_.stances_size()) +
                              " stances is over the limit of " + std::to_string(max_batch_stances_));
    }
    for (const auto& s : batch_.stances()) {
      if (s.id().empty() || s.item_id().empty() || s.actor().id().empty()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "batch " + std::to_string(batch_.seq()) +
                                " holds a stance without id, item_id or actor.id");
      }
    }
    return grpc::Status::OK;
  }

  StanceStore* store_;
  StoreWriter* writer_;
  size_t max_batch_stances_;
  WatchHub* watch_hub_;
  std::string peer_;
  v1::DeliverBatch batch_;
  v1::DeliverAck ack_;
};

}  // namespace

grpc::ServerBidiReactor<v1::DeliverBatch, v1::DeliverAck>* StanceSinkService::Deliver(
    grpc::CallbackServerContext* context) {
  return new DeliverReactor(store_, writer_, max_batch_stances_, watch_hub_, context->peer());
}

}  // namespace stancewire::query
