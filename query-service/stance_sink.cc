#include "query-service/stance_sink.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <memory>

#include "common/byte_buffer.h"
#include "common/timestamps.h"

namespace stancewire::query {

StoreWriter::StoreWriter(StanceStore* store, WatchHub* watch_hub, size_t max_stances_per_commit)
    : store_(store),
      watch_hub_(watch_hub),
      max_stances_per_commit_(max_stances_per_commit),
      reclaimer_([this] { RunReclaimer(); }),
      thread_([this] { Run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  {
    std::lock_guard lock(spent_mu_);
    spent_stopping_ = true;
  }
  spent_cv_.notify_all();
  reclaimer_.join();
}

void StoreWriter::Submit(DeliveredBatch batch, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Job{std::move(batch), std::move(done)});
  }
  cv_.notify_one();
}

void StoreWriter::Run() {
  // More spent batches than this waiting for the reclaimer: free them here instead.
  constexpr size_t kMaxSpent = 64;
  std::vector<Job> jobs;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      size_t stances = 0;
      do {
        stances += queue_.front().batch.stances.size();
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!queue_.empty() &&
               stances + queue_.front().batch.stances.size() <= max_stances_per_commit_);
    }
    // The first batch's vector becomes the commit's; only later batches' stances move. The wire
    // bytes stay where they arrived (the jobs keep them) until the commit is done.
    std::vector<v1::Stance> combined = std::move(jobs.front().batch.stances);
    std::vector<std::string_view> wire = std::move(jobs.front().batch.wire);
    if (jobs.size() > 1) {
      size_t total = combined.size();
      for (size_t j = 1; j < jobs.size(); ++j) total += jobs[j].batch.stances.size();
      combined.reserve(total);
      wire.reserve(total);
      for (size_t j = 1; j < jobs.size(); ++j) {
        auto& b = jobs[j].batch;
        std::move(b.stances.begin(), b.stances.end(), std::back_inserter(combined));
        wire.insert(wire.end(), b.wire.begin(), b.wire.end());
      }
    }
    UpsertResult stored;
    grpc::Status status = store_->Upsert(combined, &stored, &wire);
    if (status.ok() && watch_hub_ && !stored.changed.empty() && watch_hub_->watcher_count() > 0) {
      if (stored.changed.size() == combined.size()) {
        watch_hub_->Publish(combined);
      } else {
        std::vector<v1::Stance> changed;
        changed.reserve(stored.changed.size());
        for (size_t i : stored.changed) changed.push_back(std::move(combined[i]));
        watch_hub_->Publish(changed);
      }
    }
    for (auto& job : jobs) job.done(status);
    {
      std::unique_lock lock(spent_mu_);
      if (spent_.size() < kMaxSpent) {
        spent_.push_back(std::move(combined));
        for (size_t j = 1; j < jobs.size(); ++j) {
          spent_.push_back(std::move(jobs[j].batch.stances));
        }
        lock.unlock();
        spent_cv_.notify_one();
      }
    }
    jobs.clear();
  }
}

void StoreWriter::RunReclaimer() {
  std::vector<std::vector<v1::Stance>> spent;
  for (;;) {
    {
      std::unique_lock lock(spent_mu_);
      spent_cv_.wait(lock, [this] { return spent_stopping_ || !spent_.empty(); });
      if (spent_.empty()) return;
      spent.swap(spent_);
    }
    spent.clear();
  }
}

namespace {

using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kSeqTag =
    WireFormatLite::MakeTag(v1::DeliverBatch::kSeqFieldNumber, WireFormatLite::WIRETYPE_VARINT);
constexpr uint32_t kStanceTag = WireFormatLite::MakeTag(v1::DeliverBatch::kStancesFieldNumber,
                                                        WireFormatLite::WIRETYPE_LENGTH_DELIMITED);

grpc::Status InvalidBatch(const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed DeliverBatch: " + why);
}

// Decodes a DeliverBatch from its wire form straight into batch->stances, as DeliverBatch::Parse
// would (unknown fields skipped, the last seq wins), keeps each stance's bytes, and checks what
// the store relies on.
grpc::Status DecodeBatch(const grpc::ByteBuffer& buffer, size_t max_stances, uint64_t* seq,
                         DeliveredBatch* batch) {
  if (!ContiguousSlice(buffer, &batch->bytes)) return InvalidBatch("unreadable");
  const std::string_view bytes = View(batch->bytes);
  std::vector<v1::Stance>* stances = &batch->stances;
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  // Two passes: the first counts the stances (the limit is checked before anything is decoded),
  // the second decodes them into a vector of the right size.
  for (int pass = 0; pass < 2; ++pass) {
    google::protobuf::io::CodedInputStream in(data, static_cast<int>(bytes.size()));
    size_t count = 0;
    *seq = 0;
    while (uint32_t tag = in.ReadTag()) {
      if (tag == kSeqTag) {
        if (!in.ReadVarint64(seq)) return InvalidBatch("bad seq");
      } else if (tag == kStanceTag) {
        uint32_t length;
        if (!in.ReadVarint32(&length)) return InvalidBatch("bad stance length");
        const int at = in.CurrentPosition();
        if (length > bytes.size() - at) return InvalidBatch("truncated stance");
        if (pass == 1) {
          if (!stances->emplace_back().ParseFromArray(data + at, static_cast<int>(length))) {
            return InvalidBatch("stance " + std::to_string(count) + " is not a valid Stance");
          }
          batch->wire.emplace_back(bytes.data() + at, length);
        }
        in.Skip(static_cast<int>(length));
        ++count;
      } else if (!WireFormatLite::SkipField(&in, tag)) {
        return InvalidBatch("bad field");
      }
    }
    if (!in.ConsumedEntireMessage()) return InvalidBatch("bad field");
    if (pass == 0) {
      if (count > max_stances) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "batch of " + std::to_string(count) + " stances is over the limit of " +
                                std::to_string(max_stances));
      }
      stances->reserve(count);
      batch->wire.reserve(count);
    }
  }
  for (const auto& s : *stances) {
    if (s.id().empty() || s.item_id().empty() || s.actor().id().empty()) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          "batch " + std::to_string(*seq) + " holds a stance without id, item_id or actor.id");
    }
  }
  // A publication time out of range (only an outbox written before Ingest checked them holds
  // one) is clamped, not refused: refusing would leave the batch, and all behind it, undelivered.
  for (size_t i = 0; i < stances->size(); ++i) {
    v1::Stance& s = (*stances)[i];
    if (!s.has_published() || PublishedProblem("published", s.published()).empty()) continue;
    ClampPublished(s.mutable_published());
    spdlog::warn("stance {} of item {}: publication time out of range, stored as {}", s.id(),
                 s.item_id(), google::protobuf::util::TimeUtil::ToString(s.published()));
    batch->rewritten.push_back(s.SerializeAsString());
    batch->wire[i] = batch->rewritten.back();
  }
  return grpc::Status::OK;
}

grpc::ByteBuffer EncodeAck(uint64_t seq) {
  v1::DeliverAck ack;
  ack.set_seq(seq);
  grpc::ByteBuffer buffer;
  (void)SerializeToByteBuffer(ack, &buffer);  // a few bytes: an inlined slice, no allocation
  return buffer;
}

}  // namespace

// One delivery stream. Up to kMaxBatchesPerStream batches are read ahead and handed to the store
// writer; each is acknowledged, in order, once committed. Reading stops while that many are
// outstanding: a slow store slows the sender (HTTP/2 flow control) instead of filling memory.
class DeliverReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // Registered with `service` (under its lock) before it reads anything.
  DeliverReactor(StanceSinkService* service, std::string peer)
      : service_(service),
        writer_(service->writer_),
        max_batch_stances_(service->max_batch_stances_),
        peer_(std::move(peer)) {
    spdlog::info("delivery stream opened by {}", peer_);
  }

  void Start() {
    std::lock_guard lock(mu_);
    MaybeRead();
  }

  // Stops reading; ends the stream once what was read is stored and acknowledged.
  void Drain() {
    std::lock_guard lock(mu_);
    draining_ = true;
    MaybeFinish();
  }

  void OnReadDone(bool ok) override {
    // Decoded before taking the lock, which the store writer's thread also takes: no other
    // thread touches next_ while a read is in progress.
    uint64_t seq = 0;
    DeliveredBatch batch;
    grpc::Status decoded =
        ok ? DecodeBatch(*next_, max_batch_stances_, &seq, &batch) : grpc::Status::OK;
    std::lock_guard lock(mu_);
    reading_ = false;
    if (!ok) {  // the sender half-closed or went away
      read_closed_ = true;
      MaybeFinish();
      return;
    }
    // Read while the stream was being ended: it can no longer be acknowledged, so it is not
    // stored either; the sender still holds it and sends it again.
    if (finished_) return;
    if (decoded.ok()) decoded = CheckSeq(seq);
    if (!decoded.ok()) {
      spdlog::warn("delivery from {} refused: {}", peer_, decoded.error_message());
      Fail(decoded);
      return;
    }
    last_seq_ = seq;
    ++in_store_;
    writer_->Submit(std::move(batch),
                    [this, seq](const grpc::Status& status) { OnStored(seq, status); });
    MaybeRead();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      Fail(grpc::Status(grpc::StatusCode::CANCELLED, "acknowledgement could not be sent"));
      return;
    }
    MaybeWrite();
    MaybeRead();
    MaybeFinish();
  }

  void OnDone() override {
    spdlog::info("delivery stream from {} closed", peer_);
    service_->Forget(this);
    std::unique_lock lock(mu_);
    done_ = true;
    // A batch still in the store writer refers to this reactor; the last one out deletes it.
    if (in_store_ > 0) return;
    lock.unlock();
    delete this;
  }

 private:
  void OnStored(uint64_t seq, const grpc::Status& status) {
    std::unique_lock lock(mu_);
    --in_store_;
    if (done_) {
      if (in_store_ == 0) {
        lock.unlock();
        delete this;
      }
      return;
    }
    if (!status.ok()) {
      spdlog::error("storing batch {} from {} failed: {}", seq, peer_, status.error_message());
      // UNAVAILABLE tells the sender to retry later; the batch was not acknowledged.
      Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "store: " + status.error_message()));
      return;
    }
    acks_.push_back(seq);
    MaybeWrite();
    MaybeRead();
  }

  // Acknowledgements name a seq and cover every batch up to it, so a seq that repeats, goes
  // back or wraps would acknowledge batches never stored: such a batch ends the stream unstored.
  grpc::Status CheckSeq(uint64_t seq) const {
    auto invalid = [](const std::string& why) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "DeliverBatch.seq " + why);
    };
    if (seq == 0) return invalid("is 0: sequence numbers start at 1");
    if (seq > static_cast<uint64_t>(INT64_MAX)) {
      return invalid(std::to_string(seq) + " is out of range (at most 2^63-1)");
    }
    if (seq <= last_seq_) {
      return invalid(std::to_string(seq) + " does not follow " + std::to_string(last_seq_) +
                     ": sequence numbers increase within a stream");
    }
    return grpc::Status::OK;
  }

  // All Maybe* and Fail run with mu_ held.
  void MaybeRead() {
    if (finished_ || reading_ || read_closed_ || draining_) return;
    if (in_store_ + acks_.size() + (writing_ ? 1 : 0) >= StanceSinkService::kMaxBatchesPerStream) {
      return;
    }
    reading_ = true;
    next_ = std::make_unique<grpc::ByteBuffer>();
    StartRead(next_.get());
  }

  void MaybeWrite() {
    if (finished_ || writing_ || acks_.empty()) return;
    ack_ = EncodeAck(acks_.front());
    acks_.pop_front();
    writing_ = true;
    StartWrite(&ack_);
  }

  void MaybeFinish() {
    if (in_store_ > 0 || !acks_.empty() || writing_) return;
    if (read_closed_) {
      Fail(grpc::Status::OK);
    } else if (draining_) {  // a read may still be pending: finishing ends it
      Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "query-service is shutting down; everything acknowledged is stored"));
    }
  }

  void Fail(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  StanceSinkService* const service_;
  StoreWriter* writer_;
  const size_t max_batch_stances_;
  const std::string peer_;

  // Recursive: gRPC may, in principle, run a reaction on the thread that started the operation.
  std::recursive_mutex mu_;
  std::unique_ptr<grpc::ByteBuffer> next_;  // the read in progress
  grpc::ByteBuffer ack_;                    // the write in progress
  std::deque<uint64_t> acks_;               // stored, waiting to be acknowledged
  size_t in_store_ = 0;                     // handed to the store writer, not yet back
  uint64_t last_seq_ = 0;                   // of the last batch accepted on this stream
  bool reading_ = false;
  bool writing_ = false;
  bool read_closed_ = false;
  bool draining_ = false;
  bool finished_ = false;
  bool done_ = false;
};

namespace {

class RefusedStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::Status StanceSinkService::Admit(const grpc::CallbackServerContext& context) const {
  // A client certificate: the transport verified it chains to --tls-client-ca.
  std::vector<std::string> sans;
  bool has_certificate = false;
  if (access_.client_certificates) {
    auto auth = context.auth_context();
    has_certificate = auth && auth->IsPeerAuthenticated();
    sans = PeerSubjectAltNames(context);
    if (has_certificate && access_.allowed_identities.empty()) return grpc::Status::OK;
    for (const auto& san : sans) {
      for (const auto& allowed : access_.allowed_identities) {
        if (san == allowed) return grpc::Status::OK;
      }
    }
  }
  // A token: only the delivery role, never writer (Ingest's), opens the stream.
  const bool sent_token = context.client_metadata().count("authorization") > 0;
  if (access_.tokens && access_.tokens->enabled() && sent_token) {
    return access_.tokens->Authorize(context, "delivery");
  }
  if (has_certificate) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "client certificate SAN " +
                            (sans.empty() ? std::string("(none)") : sans.front()) +
                            " is not allowed on the delivery stream");
  }
  if (access_.insecure) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "the delivery stream needs a client certificate (mutual TLS) or a bearer "
                      "token with the delivery role");
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StanceSinkService::Deliver(
    grpc::CallbackServerContext* context) {
  if (grpc::Status refused = Admit(*context); !refused.ok()) {
    spdlog::warn("delivery stream from {} refused: {}", context->peer(), refused.error_message());
    return new RefusedStream(refused);
  }
  std::lock_guard lock(streams_mu_);
  if (draining_) {
    return new RefusedStream(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "query-service is shutting down"));
  }
  auto* stream = new DeliverReactor(this, context->peer());
  streams_.insert(stream);
  stream->Start();
  return stream;
}

void StanceSinkService::Drain() {
  std::lock_guard lock(streams_mu_);
  draining_ = true;
  if (!streams_.empty()) spdlog::info("ending {} delivery stream(s)", streams_.size());
  for (DeliverReactor* stream : streams_) stream->Drain();
}

void StanceSinkService::Forget(DeliverReactor* stream) {
  std::lock_guard lock(streams_mu_);
  streams_.erase(stream);
}

}  // namespace stancewire::query
