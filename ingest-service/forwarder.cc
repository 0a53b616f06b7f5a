#include "ingest-service/forwarder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <spdlog/spdlog.h>

#include <random>

#include "common/byte_buffer.h"
#include "stancewire/v1/delivery.grpc.pb.h"

namespace stancewire::ingest {
namespace {

constexpr char kDeliverMethod[] = "/stancewire.v1.StanceSink/Deliver";

// A DeliverBatch on the wire: the outbox's StanceRecords as they are, then `seq` (protobuf takes
// fields in any order). The bytes move into the message without a copy.
grpc::ByteBuffer EncodeBatch(std::string records, uint64_t seq) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  uint8_t field[1 + 10];  // tag, varint64
  field[0] =
      WireFormatLite::MakeTag(v1::DeliverBatch::kSeqFieldNumber, WireFormatLite::WIRETYPE_VARINT);
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(seq, field + 1);
  records.append(reinterpret_cast<const char*>(field), end - field);
  return ByteBufferFromString(std::move(records));
}

// The client end of one Deliver stream. The forwarder thread writes batches (one write at a time,
// as the callback API allows); acknowledgements arrive in OnReadDone on a gRPC thread and go
// straight to the outbox, which deletes their entries with its next commit.
class DeliverStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, v1::DeliverAck> {
 public:
  explicit DeliverStream(Outbox* outbox) : outbox_(outbox) {}

  void Start(grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::DeliverAck>* stub,
             grpc::ClientContext* context) {
    stub->PrepareBidiStreamingCall(context, kDeliverMethod, {}, this);
    AddHold();  // writes start from the forwarder thread, outside the reactions
    StartRead(&ack_);
    StartCall();
  }

  // Waits until another batch may be written: no write outstanding and fewer than `max` batches
  // unacknowledged. False once the stream has ended or `stop` says so.
  bool WaitToWrite(size_t max, const std::function<bool()>& stop) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ended_ || stop() || (!writing_ && in_flight_ < max); });
    return !ended_ && !stop();
  }

  void Write(grpc::ByteBuffer batch) {
    {
      std::lock_guard lock(mu_);
      batch_ = std::move(batch);
      writing_ = true;
      ++in_flight_;
    }
    StartWrite(&batch_);
  }

  // Waits up to `timeout` for every batch written to be acknowledged (or the stream to end).
  void WaitAcknowledged(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ended_ || in_flight_ == 0; });
  }

  // Half-closes and waits for query-service to finish the stream; cancels it when that takes
  // longer than `timeout` (a dead peer). Returns the stream's status.
  grpc::Status Finish(grpc::ClientContext* context, std::chrono::milliseconds timeout) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !writing_; });
    }
    StartWritesDone();
    RemoveHold();
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return done_; })) {
      context->TryCancel();
      cv_.wait(lock, [&] { return done_; });
    }
    return status_;
  }

  bool acked_any() {
    std::lock_guard lock(mu_);
    return acked_any_;
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) ended_ = true;
    cv_.notify_all();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard lock(mu_);
      ended_ = true;
      cv_.notify_all();
      outbox_->Wake();
      return;
    }
    outbox_->Acknowledge(ack_.seq());
    {
      std::lock_guard lock(mu_);
      if (in_flight_ > 0) --in_flight_;
      acked_any_ = true;
      cv_.notify_all();
    }
    StartRead(&ack_);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard lock(mu_);
    status_ = status;
    ended_ = true;
    done_ = true;
    cv_.notify_all();
  }

 private:
  Outbox* const outbox_;
  v1::DeliverAck ack_;      // the read in progress
  grpc::ByteBuffer batch_;  // the write in progress
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;  // written, not yet acknowledged
  bool writing_ = false;
  bool ended_ = false;  // no more writes will succeed
  bool done_ = false;   // OnDone ran: the reactor may go
  bool acked_any_ = false;
  grpc::Status status_;
};

}  // namespace

Forwarder::Forwarder(Outbox* outbox, std::shared_ptr<grpc::Channel> channel,
                     ForwarderOptions options)
    : outbox_(outbox), channel_(std::move(channel)), options_(options) {}

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
  // Raw bytes out: the batch is the outbox's records spliced together, never a decoded message.
  grpc::TemplatedGenericStub<grpc::ByteBuffer, v1::DeliverAck> stub(channel_);
  DeliverStream stream(outbox_);
  stream.Start(&stub, &context);

  // Everything still in the outbox is unacknowledged: resume from its start.
  connected_ = true;
  uint64_t last_sent = 0;
  OutboxBatch batch;
  const auto stop = [this] { return stopping_.load(); };
  while (stream.WaitToWrite(options_.max_in_flight_batches, stop)) {
    if (draining_ && outbox_->pending_stances() == 0) break;
    grpc::Status status =
        outbox_->Read(last_sent, options_.batch_stances, options_.batch_bytes, &batch);
    if (!status.ok()) {
      spdlog::error("reading the outbox: {}", status.error_message());
      break;
    }
    if (batch.stances == 0) {
      outbox_->WaitForEntries(last_sent, std::chrono::milliseconds(200));
      continue;
    }
    last_sent = batch.last_seq;
    stream.Write(EncodeBatch(std::move(batch.records), batch.last_seq));
  }
  // Wait for outstanding acknowledgements when draining cleanly, then close our side.
  stream.WaitAcknowledged(std::chrono::seconds(5));
  grpc::Status status = stream.Finish(&context, std::chrono::seconds(2));
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
  return stream.acked_any();
}

}  // namespace stancewire::ingest
