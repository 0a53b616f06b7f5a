// WatchStances: stances are pushed to the watchers whose filters they match as soon as the store
// has them. Memory stays bounded however slow a watcher is: each has a queue of at most
// `max_queue` stances and `max_queue_bytes` bytes, and every queue (and the stance being written)
// takes its bytes from the service's MemoryBudget. A watcher that would pass either limit is ended
// with RESOURCE_EXHAUSTED (its queue dropped); a watcher with nothing queued always gets its next
// stance, so a slow client cannot starve one that keeps up. At most `max_watchers` watch at once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "query-service/memory_budget.h"
#include "query-service/stance_match.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::query {

struct WatchOptions {
  size_t max_queue = 1000;                   // stances waiting to be written, per watcher
  size_t max_watchers = 1000;                // concurrent WatchStances calls
  size_t max_queue_bytes = size_t{8} << 20;  // bytes waiting to be written, per watcher
  MemoryBudget* budget = nullptr;            // shared with other calls; null: the hub's own
};

class WatchHub {
 public:
  // One watcher's end: implemented by the stream reactor.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    struct Offered {
      const v1::Stance* stance;
      size_t bytes;  // its encoded size
    };
    // Called with the hub's lock held, from the thread that stored the stances.
    virtual void Offer(const std::vector<Offered>& stances) = 0;
    virtual void Close(const grpc::Status& status) = 0;
  };

  explicit WatchHub(WatchOptions options = {});
  ~WatchHub();

  // After a batch is stored: hands each watcher the stances it matches, in order.
  void Publish(const std::vector<v1::Stance>& stances);

  // Starts a WatchStances stream for `matcher` (already validated). It writes each stance as
  // serialized bytes (QueryService takes WatchStances raw, to name what is wrong in a request).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(grpc::CallbackServerContext* context,
                                                    StanceMatcher matcher);

  // Ends every watcher with UNAVAILABLE (shutting down); later Watch calls are refused.
  void Close();

  size_t watcher_count() const;
  const WatchOptions& options() const { return options_; }
  MemoryBudget& budget() const { return *budget_; }

  // For the reactors.
  bool Subscribe(Subscriber* s, std::string* refusal);
  void Unsubscribe(Subscriber* s);

 private:
  const WatchOptions options_;
  MemoryBudget own_budget_{SIZE_MAX};
  MemoryBudget* const budget_;
  mutable std::mutex mu_;
  std::set<Subscriber*> subscribers_;
  bool closed_ = false;
};

}  // namespace stancewire::query
