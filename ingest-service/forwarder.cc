#include "ingest-service/forwarder.h"

#include <spdlog/spdlog.h>

#include <random>

namespace stancewire::ingest {

Forwarder::Forwarder(Outbox* outbox, std::shared_ptr<grpc::Channel> channel,
                     ForwarderOptions options)
    : outbox_(outbox),
      stub_(v1::StanceSink::NewStub(channel)),
      channel_(std::move(channel)),
      options_(options) {}

Forwarder::~Forwarder() { Stop(std::chrono::system_clock::now()); }

void Forwarder::Start() {
  thread_ = std::thread([this] { Run(); });
}

int64_t Forwarder::Stop(std::chrono::system_clock::time_point deadline) {
  if (!thread_.joinable()) return outbox_->pending_stances();
  draining_ = true;
  outbox_->Wake();
  while (outbox_->pending_stances() > 0 && std::chrono::system_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stopping_ = true;
  {
    std::lock_guard lock(context_mu_);
    if (context_) context_->TryCancel();
  }
  sleep_cv_.notify_all();
  outbox_->Wake();
  thread_.join();
  return outbox_->pending_stances();
}

void Forwarder::SleepBackoff(std::chrono::milliseconds delay) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void Forwarder::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.backoff_initial;
  while (!stopping_) {
    if (draining_ && outbox_->pending_stances() == 0) break;
    bool progressed = RunStream();
    if (stopping_) break;
    if (progressed) backoff = options_.backoff_initial;
    // Full jitter: spread reconnects of many ingest-service replicas over the whole window.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    SleepBackoff(std::chrono::milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

bool Forwarder::RunStream() {
  // Wait for the connection with a deadline rather than blocking a write forever.
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() + options_.connect_timeout)) {
    spdlog::debug("query-service not reachable; {} stances wait in the outbox",
                  outbox_->pending_stances());
    return false;
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.stream_max_age);
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.bearer_token);
  }
  {
    std::lock_guard lock(context_mu_);
    if (stopping_) return false;
    context_ = &context;
  }
  auto stream = stub_->Deliver(&context);

  // Everything still in the outbox is unacknowledged: resume from its start.
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;
  bool reader_done = false;
  bool acked_any = false;
  std::thread reader([&] {
    v1::DeliverAck ack;
    while (stream->Read(&ack)) {
      grpc::Status status = outbox_->Acknowledge(ack.seq());
      if (!status.ok()) spdlog::error("acknowledging {}: {}", ack.seq(), status.error_message());
      std::lock_guard lock(mu);
      if (in_flight > 0) --in_flight;
      acked_any = true;
      cv.notify_all();
    }
    std::lock_guard lock(mu);
    reader_done = true;
    cv.notify_all();
    outbox_->Wake();
  });

  connected_ = true;
  uint64_t last_sent = 0;
  std::vector<OutboxEntry> entries;
  v1::DeliverBatch batch;
  bool write_ok = true;
  while (write_ok && !stopping_) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] {
        return reader_done || stopping_ || in_flight < options_.max_in_flight_batches;
      });
      if (reader_done || stopping_) break;
    }
    if (draining_ && outbox_->pending_stances() == 0) break;
    grpc::Status status = outbox_->Read(last_sent, options_.batch_stances, &entries);
    if (!status.ok()) {
      spdlog::error("reading the outbox: {}", status.error_message());
      break;
    }
    if (entries.empty()) {
      outbox_->WaitForEntries(last_sent, std::chrono::milliseconds(200));
      continue;
    }
    batch.Clear();
    for (auto& e : entries) *batch.add_stances() = std::move(e.stance);
    last_sent = entries.back().seq;
    batch.set_seq(last_sent);
    {
      std::lock_guard lock(mu);
      ++in_flight;
    }
    write_ok = stream->Write(batch);
  }
  // Wait for outstanding acknowledgements when draining cleanly, then close our side.
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return reader_done || in_flight == 0; });
  }
  stream->WritesDone();
  {
    // query-service answers our half-close by finishing the stream; don't wait on a dead peer.
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(2), [&] { return reader_done; })) {
      lock.unlock();
      context.TryCancel();
    }
  }
  reader.join();
  grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(context_mu_);
    context_ = nullptr;
  }
  connected_ = false;
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    spdlog::warn("delivery stream ended: {} ({}); {} stances wait in the outbox",
                 status.error_message(), static_cast<int>(status.error_code()),
                 outbox_->pending_stances());
  }
  return acked_any;
}

}  // namespace stancewire::ingest
