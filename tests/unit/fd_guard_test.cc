// The accept guard (common/fd_guard.h): connections past the cap are closed at once, and running
// out of descriptors turns into EAGAIN with the pending connections closed, never an accept4
// error (which gRPC 1.51 never recovers from). Also: the process' accept4 is the guard's.
#include "common/fd_guard.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <vector>

namespace stancewire {
namespace {

class FdGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConfigureFdLimits();
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listener_, 64), 0);
    socklen_t len = sizeof(addr_);
    ASSERT_EQ(getsockname(listener_, reinterpret_cast<sockaddr*>(&addr_), &len), 0);
  }
  void TearDown() override {
    SetConnectionCapForTest(INT_MAX);
    for (int fd : clients_) close(fd);
    close(listener_);
  }

  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)), 0);
    clients_.push_back(fd);
    return fd;
  }

  // True when the server side of `client` was closed (EOF or reset within a second).
  static bool ClosedByServer(int client) {
    pollfd p{client, POLLIN, 0};
    if (poll(&p, 1, 1000) != 1) return false;
    char c;
    ssize_t n = recv(client, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  int listener_ = -1;
  sockaddr_in addr_{};
  std::vector<int> clients_;
};

TEST_F(FdGuardTest, RaisesTheSoftLimitToTheHardOne) {
  FdLimits limits = ConfigureFdLimits();
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_EQ(limits.soft, rl.rlim_cur);
  if (rl.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(rl.rlim_cur, rl.rlim_max);
  }
  EXPECT_EQ(limits.connection_cap, static_cast<int>(limits.soft) - ReservedFds(limits.soft));
  EXPECT_EQ(ReservedFds(64), 16);
  EXPECT_EQ(ReservedFds(8192), 1024);
  EXPECT_EQ(ReservedFds(1 << 20), 1024);
}

TEST_F(FdGuardTest, TheProcessAccept4IsTheGuards) {
  // What shared libraries (gRPC) bind to: the first definition in the global scope.
  void* global = dlsym(RTLD_DEFAULT, "accept4");
  EXPECT_EQ(global, reinterpret_cast<void*>(&accept4));
  EXPECT_NE(global, dlsym(RTLD_NEXT, "accept4"));
}

TEST_F(FdGuardTest, ConnectionsUnderTheCapAreAcceptedThroughTheProcessAccept4) {
  int client = Connect();
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);  // what gRPC calls
    if (fd < 0) usleep(10000);
  }
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_FALSE(ClosedByServer(client));
  close(fd);
}

TEST_F(FdGuardTest, ConnectionsPastTheCapAreClosedAndTheListenerStaysUsable) {
  const uint64_t refused = RefusedConnections();
  SetConnectionCapForTest(0);  // every descriptor is past it
  std::vector<int> clients = {Connect(), Connect(), Connect()};
  usleep(50000);
  errno = 0;
  EXPECT_EQ(accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC), -1);
  EXPECT_EQ(errno, EAGAIN);  // "nothing more pending": the caller keeps the listener
  for (int c : clients) EXPECT_TRUE(ClosedByServer(c));
  EXPECT_EQ(RefusedConnections(), refused + 3);

  SetConnectionCapForTest(INT_MAX);
  int client = Connect();
  usleep(50000);
  int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_FALSE(ClosedByServer(client));
  close(fd);
}

TEST_F(FdGuardTest, OutOfDescriptorsBecomesEagainWithPendingConnectionsClosed) {
  std::vector<int> clients = {Connect(), Connect()};
  usleep(50000);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Fill every descriptor below a low soft limit, as a flood of connections would.
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(clients.back() + 32);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  ASSERT_EQ(errno, EMFILE);

  errno = 0;
  const int got = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  const int accept_errno = errno;
  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(got, -1);
  EXPECT_EQ(accept_errno, EAGAIN) << strerror(accept_errno);
  for (int c : clients) EXPECT_TRUE(ClosedByServer(c));

  // Descriptors free again: the next client is accepted.
  int client = Connect();
  usleep(50000);
  int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_FALSE(ClosedByServer(client));
  close(fd);
}

}  // namespace
}  // namespace stancewire
