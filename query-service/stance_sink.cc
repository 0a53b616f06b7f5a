#include "query-service/stance_sink.h"

#include <spdlog/spdlog.h>

#include <memory>

namespace stancewire::query {

StoreWriter::StoreWriter(StanceStore* store, WatchHub* watch_hub, size_t max_stances_per_commit)
    : store_(store),
      watch_hub_(watch_hub),
      max_stances_per_commit_(max_stances_per_commit),
      thread_([this] { Run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreWriter::Submit(std::vector<v1::Stance> stances, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Job{std::move(stances), std::move(done)});
  }
  cv_.notify_one();
}

void StoreWriter::Run() {
  std::vector<Job> jobs;
  std::vector<v1::Stance> combined;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      size_t stances = 0;
      do {
        stances += queue_.front().stances.size();
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() &&
               stances + queue_.front().stances.size() <= max_stances_per_commit_);
    }
    combined.clear();
    for (auto& job : jobs) {
      std::move(job.stances.begin(), job.stances.end(), std::back_inserter(combined));
    }
    UpsertResult stored;
    grpc::Status status = store_->Upsert(combined, &stored);
    if (status.ok() && watch_hub_ && !stored.changed.empty()) {
      std::vector<v1::Stance> changed;
      changed.reserve(stored.changed.size());
      for (size_t i : stored.changed) changed.push_back(std::move(combined[i]));
      watch_hub_->Publish(changed);
    }
    for (auto& job : jobs) job.done(status);
    jobs.clear();
  }
}

namespace {

// One delivery stream. Up to kMaxBatchesPerStream batches are read ahead and handed to the store
// writer; each is acknowledged, in order, once committed. Reading stops while that many are
// outstanding: a slow store slows the sender (HTTP/2 flow control) instead of filling memory.
class DeliverReactor final : public grpc::ServerBidiReactor<v1::DeliverBatch, v1::DeliverAck> {
 public:
  DeliverReactor(StoreWriter* writer, size_t max_batch_stances, std::string peer)
      : writer_(writer), max_batch_stances_(max_batch_stances), peer_(std::move(peer)) {
    spdlog::info("delivery stream opened by {}", peer_);
    std::lock_guard lock(mu_);
    MaybeRead();
  }

  void OnReadDone(bool ok) override {
    std::lock_guard lock(mu_);
    reading_ = false;
    if (!ok) {  // the sender half-closed or went away
      read_closed_ = true;
      MaybeFinish();
      return;
    }
    if (grpc::Status invalid = Validate(*next_); !invalid.ok()) {
      spdlog::warn("delivery from {} refused: {}", peer_, invalid.error_message());
      Fail(invalid);
      return;
    }
    const uint64_t seq = next_->seq();
    std::vector<v1::Stance> stances(std::make_move_iterator(next_->mutable_stances()->begin()),
                                    std::make_move_iterator(next_->mutable_stances()->end()));
    ++in_store_;
    writer_->Submit(std::move(stances),
                    [this, seq](const grpc::Status& status) { OnStored(seq, status); });
    MaybeRead();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      Fail(grpc::Status(grpc::StatusCode::CANCELLED, "acknowledgement could not be sent"));
      return;
    }
    MaybeWrite();
    MaybeRead();
    MaybeFinish();
  }

  void OnDone() override {
    spdlog::info("delivery stream from {} closed", peer_);
    std::unique_lock lock(mu_);
    done_ = true;
    // A batch still in the store writer refers to this reactor; the last one out deletes it.
    if (in_store_ > 0) return;
    lock.unlock();
    delete this;
  }

 private:
  void OnStored(uint64_t seq, const grpc::Status& status) {
    std::unique_lock lock(mu_);
    --in_store_;
    if (done_) {
      if (in_store_ == 0) {
        lock.unlock();
        delete this;
      }
      return;
    }
    if (!status.ok()) {
      spdlog::error("storing batch {} from {} failed: {}", seq, peer_, status.error_message());
      // UNAVAILABLE tells the sender to retry later; the batch was not acknowledged.
      Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "store: " + status.error_message()));
      return;
    }
    acks_.push_back(seq);
    MaybeWrite();
    MaybeRead();
  }

  // All Maybe* and Fail run with mu_ held.
  void MaybeRead() {
    if (finished_ || reading_ || read_closed_) return;
    if (in_store_ + acks_.size() + (writing_ ? 1 : 0) >= StanceSinkService::kMaxBatchesPerStream) {
      return;
    }
    reading_ = true;
    next_ = std::make_unique<v1::DeliverBatch>();
    StartRead(next_.get());
  }

  void MaybeWrite() {
    if (finished_ || writing_ || acks_.empty()) return;
    ack_.set_seq(acks_.front());
    acks_.pop_front();
    writing_ = true;
    StartWrite(&ack_);
  }

  void MaybeFinish() {
    if (read_closed_ && in_store_ == 0 && acks_.empty() && !writing_) Fail(grpc::Status::OK);
  }

  void Fail(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  grpc::Status Validate(const v1::DeliverBatch& batch) const {
    if (static_cast<size_t>(batch.stances_size()) > max_batch_stances_) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "batch of " + std::to_string(batch.stances_size()) +
                              " stances is over the limit of " +
                              std::to_string(max_batch_stances_));
    }
    for (const auto& s : batch.stances()) {
      if (s.id().empty() || s.item_id().empty() || s.actor().id().empty()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "batch " + std::to_string(batch.seq()) +
                                " holds a stance without id, item_id or actor.id");
      }
    }
    return grpc::Status::OK;
  }

  StoreWriter* writer_;
  const size_t max_batch_stances_;
  const std::string peer_;

  // Recursive: gRPC may, in principle, run a reaction on the thread that started the operation.
  std::recursive_mutex mu_;
  std::unique_ptr<v1::DeliverBatch> next_;  // the read in progress
  v1::DeliverAck ack_;                      // the write in progress
  std::deque<uint64_t> acks_;               // stored, waiting to be acknowledged
  size_t in_store_ = 0;                     // handed to the store writer, not yet back
  bool reading_ = false;
  bool writing_ = false;
  bool read_closed_ = false;
  bool finished_ = false;
  bool done_ = false;
};

class RefusedStream final : public grpc::ServerBidiReactor<v1::DeliverBatch, v1::DeliverAck> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::Status StanceSinkService::Admit(const grpc::CallbackServerContext& context) const {
  if (access_.tokens) {
    if (grpc::Status s = access_.tokens->Authorize(context, "writer"); !s.ok()) return s;
  }
  if (!access_.allowed_identities.empty()) {
    auto identities = PeerIdentities(context);
    for (const auto& id : identities) {
      for (const auto& allowed : access_.allowed_identities) {
        if (id == allowed) return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "client certificate identity " +
                            (identities.empty() ? std::string("(none)") : identities.front()) +
                            " is not allowed on the delivery stream");
  }
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<v1::DeliverBatch, v1::DeliverAck>* StanceSinkService::Deliver(
    grpc::CallbackServerContext* context) {
  if (grpc::Status refused = Admit(*context); !refused.ok()) {
    spdlog::warn("delivery stream from {} refused: {}", context->peer(), refused.error_message());
    return new RefusedStream(refused);
  }
  return new DeliverReactor(writer_, max_batch_stances_, context->peer());
}

}  // namespace stancewire::query
