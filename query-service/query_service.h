#pragma once

#include <string>

#include "extraction/extractor.h"
#include "query-service/page_token.h"
#include "query-service/stance_store.h"
#include "stancewire/v1/query.grpc.pb.h"

namespace stancewire::query {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// Answers QueryService calls from the store. Aliases ("Baku", "Azerbaijani") are resolved through
// the same actor dictionary the extractor uses.
class QueryServiceImpl final : public v1::QueryService::CallbackService {
 public:
  QueryServiceImpl(StanceStore* store, const extraction::ActorDictionary* actors,
                   std::string page_token_key);

  grpc::ServerUnaryReactor* ListStances(grpc::CallbackServerContext* context,
                                        const v1::ListStancesRequest* request,
                                        v1::ListStancesResponse* response) override;

  // The work behind ListStances, callable without gRPC (unit tests, benchmarks).
  grpc::Status DoListStances(const v1::ListStancesRequest& request,
                             v1::ListStancesResponse* response);

 private:
  StanceFilter MakeFilter(const v1::ListStancesRequest& request) const;

  StanceStore* store_;
  const extraction::ActorDictionary* actors_;
  PageTokenCodec tokens_;
};

}  // namespace stancewire::query
