#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <functional>
#include <string>

#include "common/security.h"
#include "extraction/extractor.h"
#include "query-service/memory_budget.h"
#include "query-service/page_token.h"
#include "query-service/request_filter.h"
#include "query-service/store/stance_store.h"
#include "query-service/watch_hub.h"
#include "stancewire/v1/query.grpc.pb.h"

namespace stancewire::query {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kDefaultAggregatePageSize = 100;  // ListActors, GetActorTimeline
inline constexpr int kMaxPageSize = 1000;

// Every method takes its request as raw bytes and parses it itself, so that a request protobuf
// refuses (a string that is not UTF-8, wire data that is not protobuf) gets an INVALID_ARGUMENT
// naming the field instead of gRPC's bare UNIMPLEMENTED. ListStances also answers raw bytes: its
// response is spliced from the stances' stored wire form instead of decoding every stance and
// encoding it again.
using QueryServiceBase = v1::QueryService::WithRawCallbackMethod_ListStances<
    v1::QueryService::WithRawCallbackMethod_ListActors<
        v1::QueryService::WithRawCallbackMethod_ListConditions<
            v1::QueryService::WithRawCallbackMethod_GetActorTimeline<
                v1::QueryService::WithRawCallbackMethod_ListClaims<
                    v1::QueryService::WithRawCallbackMethod_WatchStances<
                        v1::QueryService::CallbackService>>>>>>;

// Answers QueryService calls from the store. Aliases ("Baku", "Azerbaijani") are resolved through
// the same actor dictionary the extractor uses. Every refusal names the field and the problem.
class QueryServiceImpl final : public QueryServiceBase {
 public:
  // `watch_hub` may be null: WatchStances then answers UNIMPLEMENTED. `authorizer` may be null:
  // every caller is then allowed; otherwise every call needs a token with the reader role.
  // `budget` may be null (no bound); otherwise every response holds its bytes there until the call
  // is done, and a response that does not fit is answered RESOURCE_EXHAUSTED instead.
  QueryServiceImpl(StanceStore* store, const extraction::ActorDictionary* actors,
                   std::string page_token_key, WatchHub* watch_hub = nullptr,
                   const TokenAuthorizer* authorizer = nullptr, MemoryBudget* budget = nullptr);

  grpc::ServerUnaryReactor* ListStances(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListActors(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListConditions(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetActorTimeline(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListClaims(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchStances(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;

  // Pages of stances (and of actors or claims, which carry one each) end early, with a next page
  // token, once they pass this many bytes: 3 MiB, under the 4 MiB gRPC clients receive by
  // default (query-service lowers it to half of a smaller --max-message-bytes).
  void set_max_page_bytes(size_t bytes) { max_page_bytes_ = bytes; }

  // The work behind each call, callable without gRPC (unit tests, benchmarks).
  grpc::Status DoListStances(const v1::ListStancesRequest& request,
                             v1::ListStancesResponse* response);
  // What the ListStances method answers: the wire form of the response DoListStances builds, with
  // each stance's stored bytes copied in unchanged.
  grpc::Status DoListStancesWire(const v1::ListStancesRequest& request, grpc::ByteBuffer* response);
  grpc::Status DoListActors(const v1::ListActorsRequest& request, v1::ListActorsResponse* response);
  grpc::Status DoListConditions(const v1::ListConditionsRequest& request,
                                v1::ListConditionsResponse* response);
  grpc::Status DoGetActorTimeline(const v1::GetActorTimelineRequest& request,
                                  v1::GetActorTimelineResponse* response);
  grpc::Status DoListClaims(const v1::ListClaimsRequest& request, v1::ListClaimsResponse* response);
  // Validates a watch request and builds its matcher.
  grpc::Status MakeWatchMatcher(const v1::WatchStancesRequest& request,
                                std::optional<StanceMatcher>* matcher) const;

 private:
  grpc::Status Authorize(const grpc::CallbackServerContext& context) const {
    return authorizer_ ? authorizer_->Authorize(context, "reader") : grpc::Status::OK;
  }
  // ListStances but for building the response: the page (decoded, or stored wire form when
  // `serialized`), the total_size to report and the next page's token (empty on the last page).
  grpc::Status ListStancesPage(const v1::ListStancesRequest& request, bool serialized,
                               StancePage* page, int32_t* total_size, std::string* next_token);
  // Authorizes, parses the raw request, runs `work` and serializes its response.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* AnswerRaw(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer& request_bytes,
                                      grpc::ByteBuffer* response_bytes,
                                      grpc::Status (QueryServiceImpl::*work)(const Request&,
                                                                             Response*));
  void FillActor(const ActorRef& ref, v1::Actor* actor) const;
  // RESOURCE_EXHAUSTED when the budget is spent or cannot hold `bytes`.
  grpc::Status CheckBudget(size_t bytes) const;
  // Finishes a unary call; an OK answer first takes `bytes` from the budget. If they do not fit,
  // the call is refused and `discard` frees the response.
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, grpc::Status status,
                                   size_t bytes, const std::function<void()>& discard);
  grpc::Status DecodeToken(const std::string& token, const std::string& fingerprint,
                           std::optional<PageState>* state) const;

  StanceStore* store_;
  const extraction::ActorDictionary* actors_;
  PageTokenCodec tokens_;
  WatchHub* watch_hub_;
  const TokenAuthorizer* authorizer_;
  MemoryBudget* budget_;
  size_t max_page_bytes_ = 3 * 1024 * 1024;
};

}  // namespace stancewire::query
