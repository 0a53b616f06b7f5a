// File descriptors for servers: keeps a listener answering however many clients connect.
//
// gRPC 1.51 stops accepting on a listener for good after one failed accept4 (EMFILE: too many
// open files; grpc/grpc#20418), while existing connections go on working. This guard interposes
// accept4 for the whole process:
//  - a connection whose descriptor would be among the last `reserve` below the soft limit is
//    closed at once (capping concurrent connections below the limit), so accept4 itself does not
//    run out while gRPC drains its listen queue;
//  - should accept4 fail with EMFILE/ENFILE all the same (descriptors taken by something else),
//    a spare descriptor is given back to accept and close the pending connections, and the caller
//    sees EAGAIN, which gRPC treats as "wait for the next connection", not as fatal.
// Refusals are logged once, then at most once a minute with a count.
#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace stancewire {

struct FdLimits {
  uint64_t soft_before = 0;  // RLIMIT_NOFILE soft limit at start
  uint64_t soft = 0;         // after raising it
  uint64_t hard = 0;
  int connection_cap = 0;  // accepted descriptors at or above this number are closed at once
};

// Raises the soft RLIMIT_NOFILE to the hard limit and arms the guard with a cap derived from it.
// Idempotent and silent; call before servers start (PrepareServerBuilderPlugins does).
FdLimits ConfigureFdLimits();

// Logs the figures (a service's start-up line; benchmarks keep stdout for their own output).
void LogFdLimits();

// The descriptors kept free for everything but connections, for a soft limit of `soft`.
int ReservedFds(uint64_t soft);

// accept4 with the guard; what the process' accept4 calls. Exposed for tests.
int GuardedAccept4(int listener, sockaddr* addr, socklen_t* addr_len, int flags);

// Connections refused by the guard since start (cap reached or descriptors exhausted).
uint64_t RefusedConnections();

// For tests: sets the cap directly (INT32_MAX: no cap).
void SetConnectionCapForTest(int cap);

}  // namespace stancewire
