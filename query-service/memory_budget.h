// One budget, in bytes, for everything query-service holds on behalf of clients that have not
// read it yet: unary responses waiting to be sent and WatchStances queues. A client that stops
// reading keeps its bytes until it reads, goes away or its connection is reaped; the budget is
// what bounds the sum however many such clients there are. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>

namespace stancewire::query {

inline constexpr size_t kDefaultUnsentBytes = size_t{256} << 20;

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit = kDefaultUnsentBytes) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `bytes` if they fit; false (nothing taken) otherwise.
  bool TryReserve(size_t bytes) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ || used > limit_ - bytes) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  // Takes `bytes` even past the limit (for what must be held to make progress at all).
  void ForceReserve(size_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }
  void Release(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

}  // namespace stancewire::query
