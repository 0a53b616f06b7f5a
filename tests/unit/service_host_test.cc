#include "common/service_host.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/service_flags.h"
#include "common/shutdown_signal.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "stancewire/v1/ingest.grpc.pb.h"
#include "stancewire/v1/query.grpc.pb.h"

namespace stancewire {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

ServiceHostOptions LoopbackOptions() {
  ServiceHostOptions options;
  options.name = "test-service";
  options.server.listen = "127.0.0.1:0";
  options.shutdown_grace = std::chrono::seconds(2);
  return options;
}

// The overall ("") health status on 127.0.0.1:port, or the call's error.
std::string Health(int port) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, HealthCheckRequest(), &response);
  if (!status.ok()) return "error " + std::to_string(status.error_code());
  return HealthCheckResponse::ServingStatus_Name(response.status());
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ServiceHostTest, ValidateNamesWhatDoesNotFit) {
  v1::IngestService::Service main;
  v1::QueryService::Service extra;
  ServiceHostOptions options = LoopbackOptions();
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {}), "");

  options.extra_ports.push_back({"delivery stream", "127.0.0.1:0", {}});
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {{&extra}}), "");
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {}),
            "1 extra ports but 0 lists of services for them");
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {{}}),
            "delivery stream: no services, or a null one");
  options.extra_ports[0].listen.clear();
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {{&extra}}),
            "extra port 0 has no name or no address");

  options = LoopbackOptions();
  EXPECT_EQ(ServiceHost::Validate(options, {nullptr}, {}), "a service on the main port is null");
  options.server.credentials = grpc::InsecureServerCredentials();
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {}),
            "server.credentials is set: the host makes them from the TLS files");
  options = LoopbackOptions();
  options.server.listen.clear();
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {}), "the main port has no address");
  options = LoopbackOptions();
  options.name.clear();
  EXPECT_EQ(ServiceHost::Validate(options, {&main}, {}), "the service has no name");

  // Start refuses what Validate refuses, before binding anything.
  options = LoopbackOptions();
  ServiceHost host(options, {&main}, {{&extra}});
  EXPECT_FALSE(host.Start());
  EXPECT_EQ(host.port(), 0);
}

TEST(ServiceHostTest, OptionsFromTheSharedFlags) {
  CommonServiceFlags flags;
  flags.listen = "127.0.0.1:7400";
  flags.health_listen = "0.0.0.0:7401";
  flags.shutdown_grace_seconds = 7;
  flags.max_message_bytes = 4096;
  flags.max_concurrent_streams = 9;
  flags.max_connection_idle_seconds = 11;
  flags.max_connection_age_seconds = 12;
  flags.max_connection_age_grace_seconds = 13;
  flags.tls_cert = "cert.pem";
  flags.tls_key = "key.pem";
  flags.tls_refresh_seconds = 3;
  flags.tokens = "tokens.txt";
  ServiceHostOptions options = HostOptionsFromFlags("ingest-service", flags);
  EXPECT_EQ(options.name, "ingest-service");
  EXPECT_EQ(options.server.listen, "127.0.0.1:7400");
  EXPECT_EQ(options.server.max_message_bytes, 4096);
  EXPECT_EQ(options.server.max_concurrent_streams, 9);
  EXPECT_EQ(options.server.max_connection_idle.count(), 11);
  EXPECT_EQ(options.server.max_connection_age.count(), 12);
  EXPECT_EQ(options.server.max_connection_age_grace.count(), 13);
  EXPECT_EQ(options.server.credentials, nullptr);
  EXPECT_EQ(options.tls.files.cert, "cert.pem");
  EXPECT_EQ(options.tls.files.key, "key.pem");
  EXPECT_EQ(options.tls.files.ca, "");
  EXPECT_EQ(options.tls.files.refresh_seconds, 3u);
  EXPECT_EQ(options.tls.flags, "--tls-cert/--tls-key");
  EXPECT_EQ(options.tokens, "tokens.txt");
  EXPECT_EQ(options.health_listen, "0.0.0.0:7401");
  EXPECT_EQ(options.shutdown_grace.count(), 7);
}

TEST(ServiceHostTest, LoadSecurityChecksEveryTlsFileAndTheTokens) {
  std::unique_ptr<TokenAuthorizer> authorizer;
  ServiceHostOptions options = LoopbackOptions();
  EXPECT_TRUE(ServiceHost::LoadSecurity(options, &authorizer));
  EXPECT_EQ(authorizer, nullptr);  // no --tokens: every caller allowed

  options.tokens = WriteFile("host_tokens.txt", "0123456789abcdef0123 reader\n");
  ASSERT_TRUE(ServiceHost::LoadSecurity(options, &authorizer));
  ASSERT_NE(authorizer, nullptr);
  EXPECT_TRUE(authorizer->enabled());
  options.tokens = WriteFile("host_bad_tokens.txt", "short reader\n");
  EXPECT_FALSE(ServiceHost::LoadSecurity(options, &authorizer));

  const std::string missing = ::testing::TempDir() + "host_missing.pem";
  for (int where = 0; where < 3; ++where) {
    SCOPED_TRACE(where);
    options = LoopbackOptions();
    const FlaggedTls bad{{missing, missing, "", 10}, "--flags"};
    if (where == 0) options.tls = bad;
    if (where == 1) options.extra_ports.push_back({"extra", "127.0.0.1:0", bad});
    if (where == 2) options.client_tls.push_back({{"", "", missing, 10}, "--query-ca"});
    EXPECT_FALSE(ServiceHost::LoadSecurity(options, &authorizer));
  }
}

// Start, then SIGTERM: NOT_SERVING is reported before the drain step runs, the drain step runs
// while the servers still answer, and the servers stop once it is done.
TEST(ServiceHostTest, ServesUntilSignalThenReportsNotServingDrainsAndStops) {
  v1::IngestService::Service main;
  v1::QueryService::Service extra;
  ServiceHostOptions options = LoopbackOptions();
  options.extra_ports.push_back({"extra port", "127.0.0.1:0", {}});
  ServiceHost host(options, {&main}, {{&extra}});
  ASSERT_TRUE(host.Start());
  ASSERT_GT(host.port(), 0);
  EXPECT_EQ(host.ServingLine(), "test-service serving on 127.0.0.1:0 (port " +
                                    std::to_string(host.port()) +
                                    ", PLAINTEXT, no TLS, no token required)");
  EXPECT_EQ(Health(host.port()), "SERVING");

  // The signal waits, pending, for this thread's sigwait in ServeUntilSignal.
  BlockShutdownSignals();
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
  std::vector<std::string> seen;
  const auto before = std::chrono::system_clock::now();
  const auto deadline = host.ServeUntilSignal([&] { seen.push_back(Health(host.port())); });
  EXPECT_EQ(seen, std::vector<std::string>{"NOT_SERVING"});
  EXPECT_GE(deadline, before + options.shutdown_grace);
  EXPECT_LE(deadline, std::chrono::system_clock::now() + options.shutdown_grace);
  EXPECT_NE(Health(host.port()), "SERVING");
}

TEST(ServiceHostTest, ServingLineSaysWhetherTokensAreRequired) {
  v1::IngestService::Service main;
  ServiceHostOptions options = LoopbackOptions();
  options.tokens = "tokens.txt";  // only named here: the line follows the option
  ServiceHost host(options, {&main});
  EXPECT_EQ(host.ServingLine(),
            "test-service serving on 127.0.0.1:0 (port 0, PLAINTEXT, no TLS, bearer tokens "
            "required)");
}

}  // namespace
}  // namespace stancewire
