#pragma once

#include "extraction/extractor.h"
#include "ingest-service/outbox.h"
#include "stancewire/v1/ingest.grpc.pb.h"

namespace stancewire::ingest {

// Extract parses only; Ingest parses and returns once the stances are durable in the outbox.
class IngestServiceImpl final : public v1::IngestService::CallbackService {
 public:
  // `outbox` may be null for an extract-only server.
  IngestServiceImpl(const extraction::Extractor* extractor, Outbox* outbox, size_t max_text_bytes)
      : extractor_(extractor), outbox_(outbox), max_text_bytes_(max_text_bytes) {}

  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* context,
                                   const v1::IngestRequest* request,
                                   v1::IngestResponse* response) override;
  grpc::ServerUnaryReactor* Extract(grpc::CallbackServerContext* context,
                                    const v1::ExtractRequest* request,
                                    v1::ExtractResponse* response) override;

 private:
  // INVALID_ARGUMENT naming the problem, or OK.
  grpc::Status Validate(const v1::NewsItem& item) const;

  const extraction::Extractor* extractor_;
  Outbox* outbox_;
  size_t max_text_bytes_;
};

}  // namespace stancewire::ingest
