#pragma once

#include <grpcpp/support/byte_buffer.h>

#include "common/security.h"
#include "extraction/extractor.h"
#include "ingest-service/outbox.h"
#include "stancewire/v1/ingest.grpc.pb.h"

namespace stancewire::ingest {

// The methods take raw bytes so that a request protobuf would refuse (a string field with invalid
// UTF-8) still reaches us and gets an INVALID_ARGUMENT naming the field and byte, instead of the
// bare UNIMPLEMENTED gRPC answers when it cannot parse a request.
using IngestServiceBase = v1::IngestService::WithRawCallbackMethod_Ingest<
    v1::IngestService::WithRawCallbackMethod_Extract<v1::IngestService::Service>>;

// What one item may yield. Every stance, outbox entry, delivery batch and Ingest response must
// stay below the gRPC message limit, or an accepted item could never be delivered: an item past
// any of these is refused with INVALID_ARGUMENT naming the limit, before anything is stored.
struct ItemLimits {
  size_t max_text_bytes = 1024 * 1024;    // NewsItem.text (--max-text-bytes)
  size_t max_field_bytes = 4096;          // each of id, url, outlet, title, language
  size_t max_stances = 1000;              // stances per item (--max-stances-per-item)
  size_t max_evidence_bytes = 16 * 1024;  // Evidence.text, one sentence (--max-evidence-bytes)
  size_t max_condition_bytes = 2048;      // each Condition.text (--max-condition-bytes)
  size_t max_conditions = 256;            // conditions per stance
  // All its stances encoded, as the Ingest response carries them: under the 4 MiB gRPC clients
  // receive by default (and at most half of --max-message-bytes).
  size_t max_item_bytes = 3 * 1024 * 1024;
};

// "" when `stances` (extracted from item `item_id`) are within `limits`, else the problem.
std::string CheckStances(const std::vector<v1::Stance>& stances, const ItemLimits& limits);

// Extract parses only; Ingest parses and returns once the stances are durable in the outbox.
class IngestServiceImpl final : public IngestServiceBase {
 public:
  // `outbox` may be null for an extract-only server; `authorizer` null allows every caller.
  IngestServiceImpl(const extraction::Extractor* extractor, Outbox* outbox, ItemLimits limits,
                    const TokenAuthorizer* authorizer = nullptr)
      : extractor_(extractor), outbox_(outbox), limits_(limits), authorizer_(authorizer) {}

  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Extract(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  // The checks behind both methods once an IngestRequest or ExtractRequest (same wire shape) is
  // parsed, callable without gRPC: validates its item.
  grpc::Status CheckRequest(const v1::ExtractRequest& request) const;

 private:
  // The caller's role (a writer to store; reader or writer to extract), then parses the request
  // (common/byte_buffer.h names a field protobuf refuses) and CheckRequest.
  grpc::Status Admit(const grpc::CallbackServerContext& context, bool stores,
                     const grpc::ByteBuffer& request_bytes, v1::ExtractRequest* request) const;

  const extraction::Extractor* extractor_;
  Outbox* outbox_;
  const ItemLimits limits_;
  const TokenAuthorizer* authorizer_;
};

}  // namespace stancewire::ingest
