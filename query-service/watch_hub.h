// WatchStances: stances are pushed to the watchers whose filters they match as soon as the store
// has them. Memory stays bounded however slow a watcher is: each has a queue of at most
// `max_queue` stances; a watcher that falls that far behind is ended with RESOURCE_EXHAUSTED (its
// queue dropped), and at most `max_watchers` watch at once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "query-service/stance_match.h"
#include "stancewire/v1/stance.pb.h"

namespace stancewire::query {

struct WatchOptions {
  size_t max_queue = 1000;     // stances waiting to be written, per watcher
  size_t max_watchers = 1000;  // concurrent WatchStances calls
};

class WatchHub {
 public:
  // One watcher's end: implemented by the stream reactor.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // Called with the hub's lock held, from the thread that stored the stances.
    virtual void Offer(const std::vector<const v1::Stance*>& stances) = 0;
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

  // For the reactors.
  bool Subscribe(Subscriber* s, std::string* refusal);
  void Unsubscribe(Subscriber* s);

 private:
  const WatchOptions options_;
  mutable std::mutex mu_;
  std::set<Subscriber*> subscribers_;
  bool closed_ = false;
};

}  // namespace stancewire::query
