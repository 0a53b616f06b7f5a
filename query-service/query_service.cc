#include "query-service/query_service.h"

namespace stancewire::query {
namespace {

std::string Fingerprint(const v1::ListStancesRequest& request) {
  return request.actor() + '\x1e' + request.condition();
}

}  // namespace

QueryServiceImpl::QueryServiceImpl(StanceStore* store, const extraction::ActorDictionary* actors,
                                   std::string page_token_key)
    : store_(store), actors_(actors), tokens_(std::move(page_token_key)) {}

StanceFilter QueryServiceImpl::MakeFilter(const v1::ListStancesRequest& request) const {
  StanceFilter filter;
  if (!request.actor().empty()) {
    const auto* record = actors_ ? actors_->Resolve(request.actor()) : nullptr;
    if (record) {
      filter.actor_ids.push_back(record->id);
    } else {
      filter.actor_text = request.actor();
    }
  }
  filter.condition = request.condition();
  return filter;
}

grpc::Status QueryServiceImpl::DoListStances(const v1::ListStancesRequest& request,
                                             v1::ListStancesResponse* response) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "page_size " + std::to_string(request.page_size()) +
                            " is out of range: use 1.." + std::to_string(kMaxPageSize) +
                            ", or 0 for the default of " + std::to_string(kDefaultPageSize));
  }
  const int limit = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  const std::string fingerprint = Fingerprint(request);
  std::optional<StanceCursor> after;
  if (!request.page_token().empty()) {
    std::string error;
    after = tokens_.Decode(request.page_token(), fingerprint, &error);
    if (!after) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, error);
  }
  StancePage page;
  grpc::Status status = store_->List(MakeFilter(request), limit, after, &page);
  if (!status.ok()) return status;
  for (auto& s : page.stances) *response->add_stances() = std::move(s);
  if (page.next) response->set_next_page_token(tokens_.Encode(*page.next, fingerprint));
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListStances(grpc::CallbackServerContext* context,
                                                        const v1::ListStancesRequest* request,
                                                        v1::ListStancesResponse* response) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(DoListStances(*request, response));
  return reactor;
}

}  // namespace stancewire::query
