#include "query-service/watch_hub.h"

#include <spdlog/spdlog.h>

#include <deque>

#include "common/byte_buffer.h"

namespace stancewire::query {
namespace {

// One WatchStances call. Writes one stance at a time (the callback API allows one outstanding
// write); the rest wait in a bounded queue. Every gRPC call here is made with mu_ held: the
// library never runs OnWriteDone or OnDone inline from StartWrite or Finish, so this cannot
// deadlock, and it keeps "finished" and "writing" consistent across the store's thread and the
// gRPC threads.
class WatchReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                           public WatchHub::Subscriber {
 public:
  WatchReactor(WatchHub* hub, StanceMatcher matcher, std::string peer)
      : hub_(hub), matcher_(std::move(matcher)), peer_(std::move(peer)) {
    std::string refusal;
    if (!hub_->Subscribe(this, &refusal)) {
      subscribed_ = false;
      std::lock_guard lock(mu_);
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, refusal));
      return;
    }
    // Headers go out at once, so a client knows it is subscribed before the first stance.
    StartSendInitialMetadata();
    spdlog::debug("watch opened by {}", peer_);
  }

  void Offer(const std::vector<Offered>& stances) override {
    std::lock_guard lock(mu_);
    if (finished_) return;
    const WatchOptions& limits = hub_->options();
    for (const auto& [s, bytes] : stances) {
      if (!matcher_.Matches(*s)) continue;
      if (queue_.size() >= limits.max_queue ||
          (!queue_.empty() && queued_bytes_ + bytes > limits.max_queue_bytes)) {
        spdlog::warn("watcher {} is {} stances ({} bytes) behind; dropping it", peer_,
                     queue_.size(), queued_bytes_);
        FinishLocked(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            "watcher fell " + std::to_string(queue_.size()) + " stances (" +
                std::to_string(queued_bytes_) +
                " bytes) behind (the per-watcher limit); read faster, or narrow the filters, "
                "then catch up with ListStances and watch again"));
        return;
      }
      if (!hub_->budget().TryReserve(bytes)) {
        if (!queue_.empty() || writing_) {
          spdlog::warn(
              "watcher {} is {} stances behind and the memory for unsent data is in use; "
              "dropping it",
              peer_, queue_.size());
          FinishLocked(grpc::Status(
              grpc::StatusCode::RESOURCE_EXHAUSTED,
              "watcher fell " + std::to_string(queue_.size()) +
                  " stances behind while query-service's memory for unsent data was in use (the "
                  "overall limit); read faster, then catch up with ListStances and watch again"));
          return;
        }
        // Up to date: one stance in hand is what keeping up needs.
        hub_->budget().ForceReserve(bytes);
      }
      queued_bytes_ += bytes;
      queue_.push_back({*s, bytes});
    }
    WriteNextLocked();
  }

  void Close(const grpc::Status& status) override {
    std::lock_guard lock(mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    ReleaseCurrentLocked();
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
      return;
    }
    if (!finished_) WriteNextLocked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (subscribed_) hub_->Unsubscribe(this);
    {
      std::lock_guard lock(mu_);
      ReleaseCurrentLocked();
    }
    spdlog::debug("watch by {} ended", peer_);
    delete this;
  }

 private:
  void WriteNextLocked() {
    if (writing_ || queue_.empty()) return;
    current_.Clear();
    (void)SerializeToByteBuffer(queue_.front().stance, &current_);
    // The reservation moves with the stance: held until its write is done.
    current_bytes_ = queue_.front().bytes;
    queued_bytes_ -= current_bytes_;
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void ReleaseCurrentLocked() {
    hub_->budget().Release(current_bytes_);
    current_bytes_ = 0;
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    queue_.shrink_to_fit();
    hub_->budget().Release(queued_bytes_);
    queued_bytes_ = 0;
    // A write may still be in flight; current_ stays valid until OnDone.
    Finish(status);
  }

  WatchHub* hub_;
  StanceMatcher matcher_;
  std::string peer_;
  bool subscribed_ = true;
  std::mutex mu_;
  struct Queued {
    v1::Stance stance;
    size_t bytes;
  };
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;   // of queue_, reserved in the budget
  grpc::ByteBuffer current_;  // the stance being written, encoded
  size_t current_bytes_ = 0;  // of current_ while it is written, reserved in the budget
  bool writing_ = false;
  bool finished_ = false;
};

}  // namespace

WatchHub::WatchHub(WatchOptions options)
    : options_(options), budget_(options.budget ? options.budget : &own_budget_) {}

WatchHub::~WatchHub() { Close(); }

bool WatchHub::Subscribe(Subscriber* s, std::string* refusal) {
  std::lock_guard lock(mu_);
  if (closed_) {
    *refusal = "query-service is shutting down";
    return false;
  }
  if (subscribers_.size() >= options_.max_watchers) {
    *refusal = "too many watchers (" + std::to_string(subscribers_.size()) +
               ", the limit); try again later";
    return false;
  }
  subscribers_.insert(s);
  return true;
}

void WatchHub::Unsubscribe(Subscriber* s) {
  std::lock_guard lock(mu_);
  subscribers_.erase(s);
}

void WatchHub::Publish(const std::vector<v1::Stance>& stances) {
  if (stances.empty()) return;
  std::vector<Subscriber::Offered> ptrs;
  ptrs.reserve(stances.size());
  for (const auto& s : stances) ptrs.push_back({&s, s.ByteSizeLong()});
  std::lock_guard lock(mu_);
  for (auto* s : subscribers_) s->Offer(ptrs);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchHub::Watch(grpc::CallbackServerContext* context,
                                                            StanceMatcher matcher) {
  return new WatchReactor(this, std::move(matcher), context->peer());
}

void WatchHub::Close() {
  std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  for (auto* s : subscribers_) {
    s->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "query-service is shutting down"));
  }
}

size_t WatchHub::watcher_count() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

}  // namespace stancewire::query
