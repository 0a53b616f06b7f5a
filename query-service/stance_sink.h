// query-service's intake: the receiving end of ingest-service's long-lived delivery stream.
#pragma once

#include <grpcpp/support/slice.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/security.h"
#include "query-service/store/stance_store.h"
#include "query-service/watch_hub.h"
#include "stancewire/v1/delivery.grpc.pb.h"

namespace stancewire::query {

// Applies delivered batches to the store on one thread, off the gRPC callback threads. Batches
// that queue up while a commit runs (from one pipelined stream or from several streams) go into
// the next commit together: one transaction and one fsync for all of them. Each stream has at
// most kMaxBatchesPerStream batches here at once, so the queue is bounded by the streams.
//
// That thread is the intake's one serial stage, so it does nothing but the store's work: stances
// are not copied on the way in, and freeing them afterwards is left to a second thread.
// A batch as it arrived on the stream: the decoded stances and, for each, its bytes on the wire,
// which the store keeps as the stance's body instead of encoding it again.
struct DeliveredBatch {
  std::vector<v1::Stance> stances;
  std::vector<std::string_view> wire;  // wire[i]: stances[i] as it arrived; points into `bytes`
  grpc::Slice bytes;
  std::deque<std::string> rewritten;  // or into these: stances the sink had to correct
};

class StoreWriter {
 public:
  // `watch_hub` (optional) hears of every stance stored new or changed.
  // Batches that wait are merged into one commit up to this many stances.
  static constexpr size_t kDefaultMaxStancesPerCommit = 20000;

  StoreWriter(StanceStore* store, WatchHub* watch_hub = nullptr,
              size_t max_stances_per_commit = kDefaultMaxStancesPerCommit);
  ~StoreWriter();  // finishes queued work, then stops

  using Done = std::function<void(const grpc::Status&)>;
  void Submit(DeliveredBatch batch, Done done);

 private:
  struct Job {
    DeliveredBatch batch;
    Done done;
  };
  void Run();
  void RunReclaimer();

  StanceStore* store_;
  WatchHub* watch_hub_;
  const size_t max_stances_per_commit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;

  // Stances already stored, to be freed off the writer thread.
  std::mutex spent_mu_;
  std::condition_variable spent_cv_;
  std::vector<std::vector<v1::Stance>> spent_;
  bool spent_stopping_ = false;

  std::thread reclaimer_;
  std::thread thread_;
};

class DeliverReactor;

// Who may open the delivery stream. The stream writes straight into the store, so it takes only
// an authenticated peer: a verified client certificate (whose SAN is on allowed_identities, when
// that is set) or a bearer token with the `delivery` role (a `writer` token is not enough). A peer
// with neither is refused unless `insecure` (--insecure-delivery) lets it in.
struct SinkAccess {
  const TokenAuthorizer* tokens = nullptr;      // when enabled: a delivery token authenticates
  bool client_certificates = false;             // the stream's port verifies client certificates
  std::vector<std::string> allowed_identities;  // when non-empty: the certificate's SAN must match
  bool insecure = false;                        // accept peers that present no credentials
};

// The stream is read as raw bytes and each batch is decoded straight into the vector of stances
// the store takes, without an intermediate DeliverBatch.
class StanceSinkService final
    : public v1::StanceSink::WithRawCallbackMethod_Deliver<v1::StanceSink::Service> {
 public:
  // Batches a stream may have read but not yet acknowledged: enough that while one commit runs
  // the next one gathers several batches (the store writer merges what waits, and a large commit
  // costs the store much less per stance than a small one), few enough to bound memory per
  // stream (16 batches of at most the message limit).
  static constexpr size_t kMaxBatchesPerStream = 16;

  StanceSinkService(StoreWriter* writer, size_t max_batch_stances, SinkAccess access = {})
      : writer_(writer), max_batch_stances_(max_batch_stances), access_(std::move(access)) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Deliver(
      grpc::CallbackServerContext* context) override;

  // For shutdown: new streams are refused, and each open stream stops reading, acknowledges what
  // it has handed to the store once it is stored, then ends with UNAVAILABLE (the sender resends
  // anything unacknowledged to whichever query-service it reaches next). Without this the server
  // would wait out its whole shutdown grace, since a sender never ends the stream by itself.
  void Drain();

 private:
  friend class DeliverReactor;
  grpc::Status Admit(const grpc::CallbackServerContext& context) const;
  void Forget(DeliverReactor* stream);

  StoreWriter* writer_;
  size_t max_batch_stances_;
  SinkAccess access_;
  std::mutex streams_mu_;  // taken before any stream's own lock, never after it
  std::set<DeliverReactor*> streams_;
  bool draining_ = false;
};

}  // namespace stancewire::query
