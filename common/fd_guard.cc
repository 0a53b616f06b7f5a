#include "common/fd_guard.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <fstream>
#include <mutex>

namespace stancewire {
namespace {

std::atomic<int> g_cap{INT_MAX};
std::atomic<uint64_t> g_refused{0};
std::atomic<int64_t> g_last_log_ms{INT64_MIN};
std::mutex g_spare_mu;  // guards g_spare
int g_spare = -1;       // a descriptor to give back when accept4 runs out

int RawAccept4(int listener, sockaddr* addr, socklen_t* addr_len, int flags) {
  // The system call itself: this file defines the process' accept4.
  return static_cast<int>(syscall(SYS_accept4, listener, addr, addr_len, flags));
}

int OpenSpare() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

bool NonBlocking(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK) != 0;
}

// From gRPC's poller threads: cheap unless it logs, and it logs rarely.
void NoteRefused(const char* why) {
  const uint64_t total = g_refused.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = g_last_log_ms.load(std::memory_order_relaxed);
  if (last != INT64_MIN && now - last < 60000) return;
  if (!g_last_log_ms.compare_exchange_strong(last, now)) return;
  spdlog::warn(
      "refusing new connections: {} ({} refused since start); existing connections are served, "
      "and new ones are accepted again as soon as descriptors are free",
      why, total);
}

}  // namespace

int ReservedFds(uint64_t soft) {
  return static_cast<int>(std::clamp<uint64_t>(soft / 8, 16, 1024));
}

FdLimits ConfigureFdLimits() {
  static const FdLimits limits = [] {
    FdLimits l;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return l;
    l.soft_before = rl.rlim_cur;
    l.hard = rl.rlim_max;
    rlim_t target = rl.rlim_max;
    if (target == RLIM_INFINITY) {
      // The kernel refuses "unlimited"; its per-process ceiling is fs.nr_open.
      uint64_t nr_open = 1048576;
      std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
      target = nr_open;
    }
    if (target > rl.rlim_cur) {
      rlimit raised{target, rl.rlim_max};
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = target;
    }
    l.soft = rl.rlim_cur;
    const uint64_t cap = l.soft - std::min<uint64_t>(l.soft, ReservedFds(l.soft));
    l.connection_cap = static_cast<int>(std::min<uint64_t>(cap, INT_MAX));
    {
      std::lock_guard lock(g_spare_mu);
      if (g_spare < 0) g_spare = OpenSpare();
    }
    g_cap.store(l.connection_cap, std::memory_order_relaxed);
    return l;
  }();
  return limits;
}

void LogFdLimits() {
  const FdLimits l = ConfigureFdLimits();
  spdlog::info(
      "file descriptors: limit {} (raised from {}; hard limit {}), new connections refused while "
      "fewer than {} are free",
      l.soft, l.soft_before, l.hard, ReservedFds(l.soft));
}

int GuardedAccept4(int listener, sockaddr* addr, socklen_t* addr_len, int flags) {
  for (;;) {
    const int fd = RawAccept4(listener, addr, addr_len, flags);
    if (fd >= 0) {
      // Descriptors are allocated lowest first: this number means every one below is open.
      if (fd < g_cap.load(std::memory_order_relaxed)) return fd;
      close(fd);
      NoteRefused("too many open connections");
      // A blocking listener would wait here for the next client; let its caller decide.
      if (!NonBlocking(listener)) {
        errno = ECONNABORTED;
        return -1;
      }
      continue;
    }
    if (errno != EMFILE && errno != ENFILE) return -1;
    if (!NonBlocking(listener)) return -1;
    {
      // Accept and close what is pending with the spare's slot, so clients are told at once
      // instead of waiting in the listen queue.
      std::lock_guard lock(g_spare_mu);
      if (g_spare >= 0) {
        close(g_spare);
        g_spare = -1;
        int pending;
        while ((pending = RawAccept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) {
          close(pending);
          g_refused.fetch_add(1, std::memory_order_relaxed);
        }
        g_spare = OpenSpare();
      }
    }
    NoteRefused("out of file descriptors");
    // Not an error to gRPC: it waits for the listener to become readable again.
    errno = EAGAIN;
    return -1;
  }
}

uint64_t RefusedConnections() { return g_refused.load(std::memory_order_relaxed); }

void SetConnectionCapForTest(int cap) { g_cap.store(cap, std::memory_order_relaxed); }

}  // namespace stancewire

// gRPC (and anything else in the process) accepts through the guard. The executable's definition
// takes precedence over libc's for every shared library (ELF symbol interposition).
extern "C" int accept4(int listener, sockaddr* addr, socklen_t* addr_len, int flags) {
  return stancewire::GuardedAccept4(listener, addr, addr_len, flags);
}
