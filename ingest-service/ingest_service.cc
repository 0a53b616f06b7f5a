#include "ingest-service/ingest_service.h"

namespace stancewire::ingest {

grpc::Status IngestServiceImpl::Validate(const v1::NewsItem& item) const {
  if (item.id().empty()) {
    // Stance ids derive from the item id; without it re-ingesting could not be idempotent.
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "item.id is empty");
  }
  std::string problem = extraction::ValidateItem(item, max_text_bytes_);
  if (problem.empty()) return grpc::Status::OK;
  // Too large is a limit, not a malformed request.
  const bool too_large = item.text().size() > max_text_bytes_;
  return grpc::Status(
      too_large ? grpc::StatusCode::RESOURCE_EXHAUSTED : grpc::StatusCode::INVALID_ARGUMENT,
      "item " + item.id() + ": " + problem);
}

grpc::ServerUnaryReactor* IngestServiceImpl::Ingest(grpc::CallbackServerContext* context,
                                                    const v1::IngestRequest* request,
                                                    v1::IngestResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (grpc::Status invalid = Validate(request->item()); !invalid.ok()) {
    reactor->Finish(invalid);
    return reactor;
  }
  if (!outbox_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "this ingest-service has no outbox; use Extract"));
    return reactor;
  }
  std::vector<v1::Stance> stances = extractor_->Extract(request->item());
  for (const auto& s : stances) *response->add_stances() = s;
  if (stances.empty()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  outbox_->Append(std::move(stances),
                  [reactor](const grpc::Status& status) { reactor->Finish(status); });
  return reactor;
}

grpc::ServerUnaryReactor* IngestServiceImpl::Extract(grpc::CallbackServerContext* context,
                                                     const v1::ExtractRequest* request,
                                                     v1::ExtractResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (grpc::Status invalid = Validate(request->item()); !invalid.ok()) {
    reactor->Finish(invalid);
    return reactor;
  }
  extraction::ExtractOptions options;
  options.explain = request->explain();
  for (auto& s : extractor_->Extract(request->item(), options)) {
    *response->add_stances() = std::move(s);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace stancewire::ingest
