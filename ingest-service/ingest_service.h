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

// Extract parses only; Ingest parses and returns once the stances are durable in the outbox.
class IngestServiceImpl final : public IngestServiceBase {
 public:
  // `outbox` may be null for an extract-only server; `authorizer` null allows every caller.
  IngestServiceImpl(const extraction::Extractor* extractor, Outbox* outbox, size_t max_text_bytes,
                    const TokenAuthorizer* authorizer = nullptr)
      : extractor_(extractor),
        outbox_(outbox),
        max_text_bytes_(max_text_bytes),
        authorizer_(authorizer) {}

  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Extract(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  // The checks behind both methods, callable without gRPC: decodes an IngestRequest or
  // ExtractRequest (same wire shape) and validates its item.
  grpc::Status DecodeRequest(const std::string& bytes, v1::ExtractRequest* request) const;

 private:
  // The caller's role (a writer to store; reader or writer to extract), then DecodeRequest.
  grpc::Status Admit(const grpc::CallbackServerContext& context, bool stores,
                     const grpc::ByteBuffer& request_bytes, v1::ExtractRequest* request) const;

  const extraction::Extractor* extractor_;
  Outbox* outbox_;
  size_t max_text_bytes_;
  const TokenAuthorizer* authorizer_;
};

}  // namespace stancewire::ingest
