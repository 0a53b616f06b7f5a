#include "query-service/query_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpc/slice.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string_view>

#include "common/byte_buffer.h"
#include "common/timestamps.h"
#include "query-service/request_filter.h"
#include "query-service/stance_match.h"

namespace stancewire::query {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// What a page token is bound to: the call and every filter (not page_size, which may change
// between pages, nor the token itself).
template <typename Request>
std::string Fingerprint(const std::string& method, Request request) {
  request.clear_page_size();
  request.clear_page_token();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return method + '\x1e' + bytes;
}

grpc::Status CheckPageSize(int32_t page_size, int default_size, int* limit) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return Invalid("page_size " + std::to_string(page_size) + " is out of range: use 1.." +
                   std::to_string(kMaxPageSize) + ", or 0 for the default of " +
                   std::to_string(default_size));
  }
  *limit = page_size == 0 ? default_size : page_size;
  return grpc::Status::OK;
}

// Ends a page early once its stances pass `max_bytes` (keeping at least one, which fits: Ingest
// bounds a stance's size), with the cursor of the last one kept, so that a page of large stances
// still fits in a gRPC message and the rest follows with the next page token.
void TrimPageToBytes(size_t max_bytes, bool serialized, StancePage* page) {
  const size_t n = serialized ? page->serialized.size() : page->stances.size();
  size_t bytes = 0, keep = 0;
  for (; keep < n; ++keep) {
    const size_t size =
        serialized ? page->serialized[keep].size() : page->stances[keep].ByteSizeLong();
    if (keep > 0 && bytes + size > max_bytes) break;
    bytes += size + 8;  // the field's tag and length
  }
  if (keep == n) return;
  v1::Stance last;
  if (serialized) {
    last.ParseFromString(page->serialized[keep - 1]);
    page->serialized.resize(keep);
  } else {
    last = page->stances[keep - 1];
    page->stances.resize(keep);
  }
  page->next = StanceCursor{TimestampNanos(last.published()), last.id()};
}

int32_t Clamp32(int64_t v) { return static_cast<int32_t>(std::min<int64_t>(v, INT32_MAX)); }

// The wire form of a ListStancesResponse as protobuf writes it (fields in number order, defaults
// left out): each stored stance as a `stances` entry, then next_page_token and total_size. One
// allocation of the exact size, which gRPC sends without another copy.
grpc::Slice EncodeListStancesResponse(const std::vector<std::string>& stances,
                                      const std::string& next_token, int32_t total_size) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  constexpr uint32_t kStancesTag = WireFormatLite::MakeTag(
      v1::ListStancesResponse::kStancesFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  constexpr uint32_t kTokenTag =
      WireFormatLite::MakeTag(v1::ListStancesResponse::kNextPageTokenFieldNumber,
                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  constexpr uint32_t kTotalTag = WireFormatLite::MakeTag(
      v1::ListStancesResponse::kTotalSizeFieldNumber, WireFormatLite::WIRETYPE_VARINT);
  auto delimited_size = [](uint32_t tag, size_t n) {
    return CodedOutputStream::VarintSize32(tag) +
           CodedOutputStream::VarintSize32(static_cast<uint32_t>(n)) + n;
  };
  size_t size = 0;
  for (const auto& s : stances) size += delimited_size(kStancesTag, s.size());
  if (!next_token.empty()) size += delimited_size(kTokenTag, next_token.size());
  if (total_size != 0) {
    size += CodedOutputStream::VarintSize32(kTotalTag) +
            CodedOutputStream::VarintSize32SignExtended(total_size);
  }
  grpc_slice slice = grpc_slice_malloc(size);
  uint8_t* p = GRPC_SLICE_START_PTR(slice);
  auto put_delimited = [&p](uint32_t tag, const std::string& bytes) {
    p = CodedOutputStream::WriteVarint32ToArray(tag, p);
    p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(bytes.size()), p);
    p = static_cast<uint8_t*>(std::memcpy(p, bytes.data(), bytes.size())) + bytes.size();
  };
  for (const auto& s : stances) put_delimited(kStancesTag, s);
  if (!next_token.empty()) put_delimited(kTokenTag, next_token);
  if (total_size != 0) {
    p = CodedOutputStream::WriteVarint32ToArray(kTotalTag, p);
    p = CodedOutputStream::WriteVarint32SignExtendedToArray(total_size, p);
  }
  GPR_ASSERT(p == GRPC_SLICE_END_PTR(slice));
  return grpc::Slice(slice, grpc::Slice::STEAL_REF);
}

}  // namespace

QueryServiceImpl::QueryServiceImpl(StanceStore* store, const extraction::ActorDictionary* actors,
                                   std::string page_token_key, WatchHub* watch_hub,
                                   const TokenAuthorizer* authorizer, MemoryBudget* budget)
    : store_(store),
      actors_(actors),
      tokens_(std::move(page_token_key)),
      watch_hub_(watch_hub),
      authorizer_(authorizer),
      budget_(budget) {}

void QueryServiceImpl::FillActor(const ActorRef& ref, v1::Actor* actor) const {
  actor->set_id(ref.id);
  actor->set_name(ref.name);
  actor->set_kind(ref.kind);
  if ((ref.kind.empty() || ref.name.empty()) && actors_) {
    if (const auto* record = actors_->Resolve(ref.id); record && record->id == ref.id) {
      if (ref.name.empty()) actor->set_name(record->name);
      if (ref.kind.empty()) actor->set_kind(record->kind);
    }
  }
}

grpc::Status QueryServiceImpl::DecodeToken(const std::string& token, const std::string& fingerprint,
                                           std::optional<PageState>* state) const {
  if (token.empty()) return grpc::Status::OK;
  std::string error;
  *state = tokens_.Decode(token, fingerprint, &error);
  if (!*state) return Invalid(error);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::ListStancesPage(const v1::ListStancesRequest& request,
                                               bool serialized, StancePage* page,
                                               int32_t* total_size, std::string* next_token) {
  int limit = 0;
  if (auto s = CheckPageSize(request.page_size(), kDefaultPageSize, &limit); !s.ok()) return s;
  StanceFilter filter;
  if (auto s = ReadFilter(request, actors_, &filter); !s.ok()) return s;
  const std::string fingerprint = Fingerprint("ListStances", request);
  std::optional<PageState> state;
  if (auto s = DecodeToken(request.page_token(), fingerprint, &state); !s.ok()) return s;

  ListOptions options;
  options.limit = limit;
  options.serialized = serialized;
  if (state) options.after = state->cursor;
  // The total is counted once, on the first page, and carried in the token.
  options.count_total = !state || state->total < 0;
  grpc::Status status = store_->List(filter, options, page);
  if (!status.ok()) return status;
  TrimPageToBytes(max_page_bytes_, serialized, page);
  const int64_t total = page->total ? *page->total : state->total;
  *total_size = Clamp32(total);
  next_token->clear();
  if (page->next) *next_token = tokens_.Encode(PageState{*page->next, 0, total}, fingerprint);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::DoListStances(const v1::ListStancesRequest& request,
                                             v1::ListStancesResponse* response) {
  StancePage page;
  int32_t total_size = 0;
  std::string next_token;
  grpc::Status status =
      ListStancesPage(request, /*serialized=*/false, &page, &total_size, &next_token);
  if (!status.ok()) return status;
  for (auto& s : page.stances) *response->add_stances() = std::move(s);
  response->set_total_size(total_size);
  response->set_next_page_token(std::move(next_token));
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::DoListStancesWire(const v1::ListStancesRequest& request,
                                                 grpc::ByteBuffer* response) {
  StancePage page;
  int32_t total_size = 0;
  std::string next_token;
  grpc::Status status =
      ListStancesPage(request, /*serialized=*/true, &page, &total_size, &next_token);
  if (!status.ok()) return status;
  grpc::Slice wire = EncodeListStancesResponse(page.serialized, next_token, total_size);
  grpc::ByteBuffer buffer(&wire, 1);
  response->Swap(&buffer);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::DoListActors(const v1::ListActorsRequest& request,
                                            v1::ListActorsResponse* response) {
  int limit = 0;
  if (auto s = CheckPageSize(request.page_size(), kDefaultAggregatePageSize, &limit); !s.ok()) {
    return s;
  }
  StanceFilter filter;
  if (auto s = ReadAggregateFilter(request, actors_, &filter); !s.ok()) return s;
  const std::string fingerprint = Fingerprint("ListActors", request);
  std::optional<PageState> state;
  if (auto s = DecodeToken(request.page_token(), fingerprint, &state); !s.ok()) return s;
  std::vector<ActorStats> actors;
  grpc::Status status = store_->ListActorsMatching(filter, &actors);
  if (!status.ok()) return status;
  const size_t offset = state ? static_cast<size_t>(std::max<int64_t>(0, state->offset)) : 0;
  size_t end = std::min(actors.size(), offset + static_cast<size_t>(limit));
  size_t bytes = 0;  // the page ends early past max_page_bytes_ (each actor carries a stance)
  for (size_t i = offset; i < end; ++i) {
    auto& a = actors[i];
    if (i > offset && bytes + a.latest.ByteSizeLong() > max_page_bytes_) {
      end = i;
      break;
    }
    bytes += a.latest.ByteSizeLong() + 256;
    auto* out = response->add_actors();
    FillActor(a.actor, out->mutable_actor());
    out->mutable_actor()->set_mention(a.latest.actor().mention());
    out->set_stance_count(Clamp32(a.stance_count));
    for (const auto& [position, count] : a.position_counts) {
      auto* pc = out->add_position_counts();
      pc->set_position(position);
      pc->set_count(Clamp32(count));
    }
    *out->mutable_latest() = std::move(a.latest);
  }
  response->set_total_size(Clamp32(static_cast<int64_t>(actors.size())));
  if (end < actors.size()) {
    response->set_next_page_token(
        tokens_.Encode(PageState{{}, static_cast<int64_t>(end), -1}, fingerprint));
  }
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::DoListConditions(const v1::ListConditionsRequest& request,
                                                v1::ListConditionsResponse* response) {
  StanceFilter filter;
  if (auto s = ReadAggregateFilter(request, actors_, &filter); !s.ok()) return s;
  std::vector<ConditionStats> conditions;
  grpc::Status status = store_->ListConditionsMatching(filter, &conditions);
  if (!status.ok()) return status;
  for (const auto& c : conditions) {
    auto* out = response->add_conditions();
    out->set_kind(c.kind);
    out->set_stance_count(Clamp32(c.stance_count));
    for (const auto& [actor, count] : c.actors) {
      auto* ac = out->add_actors();
      FillActor(actor, ac->mutable_actor());
      ac->set_count(Clamp32(count));
    }
  }
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::DoGetActorTimeline(const v1::GetActorTimelineRequest& request,
                                                  v1::GetActorTimelineResponse* response) {
  StanceFilter filter;
  if (auto s = ReadTimelineFilter(request, actors_, &filter); !s.ok()) return s;
  int limit = 0;
  if (auto s = CheckPageSize(request.page_size(), kDefaultAggregatePageSize, &limit); !s.ok()) {
    return s;
  }
  if (auto s = ReadTimeWindow(request, &filter); !s.ok()) return s;
  const std::string fingerprint = Fingerprint("GetActorTimeline", request);
  std::optional<PageState> state;
  if (auto s = DecodeToken(request.page_token(), fingerprint, &state); !s.ok()) return s;

  ListOptions options;
  options.limit = limit;
  options.oldest_first = true;
  if (state) options.after = state->cursor;
  StancePage page;
  grpc::Status status = store_->List(filter, options, &page);
  if (!status.ok()) return status;
  TrimPageToBytes(max_page_bytes_, /*serialized=*/false, &page);

  const auto* record = actors_ ? actors_->Resolve(request.actor()) : nullptr;
  if (record) {
    FillActor(ActorRef{record->id, record->name, record->kind}, response->mutable_actor());
  } else if (!page.stances.empty()) {
    *response->mutable_actor() = page.stances.front().actor();
    response->mutable_actor()->clear_mention();
  } else if (!state) {
    // Not in the dictionary, and no stored stance names it: probably a typo.
    StancePage any;
    StanceFilter by_actor;
    by_actor.actor_text = request.actor();
    status = store_->List(by_actor, 1, std::nullopt, &any);
    if (!status.ok()) return status;
    if (any.stances.empty()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "actor '" + request.actor() +
                              "' is not in the actor dictionary and no stored stance names it");
    }
    *response->mutable_actor() = any.stances.front().actor();
    response->mutable_actor()->clear_mention();
  }

  // Marks compare each stance with the actor's previous one on the same topic; the first of a
  // topic in this page is compared with the stance before it in the whole timeline (before the
  // page, or before published_after).
  struct Previous {
    v1::Position position;
    std::vector<std::string> kinds;
  };
  std::map<std::string, std::optional<Previous>> previous;  // topic -> previous stance
  for (auto& stance : page.stances) {
    auto it = previous.find(stance.topic());
    if (it == previous.end()) {
      StanceFilter before;
      before.actor_ids = {stance.actor().id()};
      before.topic = stance.topic();
      before.speaker = filter.speaker;  // the previous stance that passes the same filters
      before.min_confidence = filter.min_confidence;
      ListOptions back;
      back.limit = 20;
      back.after = StanceCursor{TimestampNanos(stance.published()), stance.id()};
      StancePage earlier;
      status = store_->List(before, back, &earlier);
      if (!status.ok()) return status;
      std::optional<Previous> prev;
      for (const auto& e : earlier.stances) {
        if (e.topic() == stance.topic()) {  // topic words could also match longer keys
          prev = Previous{e.position(), ConditionKinds(e)};
          break;
        }
      }
      it = previous.emplace(stance.topic(), prev).first;
    }
    auto* entry = response->add_entries();
    const auto kinds = ConditionKinds(stance);
    if (it->second) {
      const Previous& p = *it->second;
      entry->set_previous_position(p.position);
      entry->set_position_changed(p.position != stance.position());
      std::vector<std::string> added, removed;
      std::set_difference(kinds.begin(), kinds.end(), p.kinds.begin(), p.kinds.end(),
                          std::back_inserter(added));
      std::set_difference(p.kinds.begin(), p.kinds.end(), kinds.begin(), kinds.end(),
                          std::back_inserter(removed));
      entry->set_conditions_changed(!added.empty() || !removed.empty());
      for (auto& k : added) entry->add_added_conditions(std::move(k));
      for (auto& k : removed) entry->add_removed_conditions(std::move(k));
    }
    it->second = Previous{stance.position(), kinds};
    *entry->mutable_stance() = std::move(stance);
  }
  if (page.next) response->set_next_page_token(tokens_.Encode(PageState{*page.next}, fingerprint));
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::DoListClaims(const v1::ListClaimsRequest& request,
                                            v1::ListClaimsResponse* response) {
  int limit = 0;
  if (auto s = CheckPageSize(request.page_size(), kDefaultPageSize, &limit); !s.ok()) return s;
  if (request.min_count() < 0) {
    return Invalid("min_count " + std::to_string(request.min_count()) +
                   " is negative: use 0 or 1 for every claim, 2 for corroborated ones");
  }
  StanceFilter filter;
  if (auto s = ReadFilter(request, actors_, &filter); !s.ok()) return s;
  const std::string fingerprint = Fingerprint("ListClaims", request);
  std::optional<PageState> state;
  if (auto s = DecodeToken(request.page_token(), fingerprint, &state); !s.ok()) return s;

  ClaimOptions options;
  options.limit = limit;
  options.offset = state ? state->offset : 0;
  options.min_count = std::max(1, request.min_count());
  options.count_total = !state || state->total < 0;
  ClaimPage page;
  grpc::Status status = store_->ListClaims(filter, options, &page);
  if (!status.ok()) return status;
  const int64_t total = page.total ? *page.total : state->total;
  size_t bytes = 0;  // the page ends early past max_page_bytes_ (each claim carries a stance)
  for (auto& c : page.claims) {
    if (response->claims_size() > 0 && bytes + c.latest.ByteSizeLong() > max_page_bytes_) {
      page.more = true;
      break;
    }
    bytes += c.latest.ByteSizeLong() + 256;
    auto* out = response->add_claims();
    FillActor(c.actor, out->mutable_actor());
    out->set_topic(c.topic);
    out->set_topic_label(c.latest.topic_label());
    out->set_position(c.position);
    for (auto& k : c.condition_kinds) out->add_condition_kinds(std::move(k));
    out->set_count(Clamp32(c.count));
    for (auto& o : c.outlets) out->add_outlets(std::move(o));
    *out->mutable_first_seen() = NanosTimestamp(c.first_seen_nanos);
    *out->mutable_last_seen() = NanosTimestamp(c.last_seen_nanos);
    for (auto& id : c.item_ids) out->add_item_ids(std::move(id));
    *out->mutable_latest() = std::move(c.latest);
  }
  response->set_total_size(Clamp32(total));
  if (page.more) {
    response->set_next_page_token(tokens_.Encode(
        PageState{{}, options.offset + static_cast<int64_t>(response->claims_size()), total},
        fingerprint));
  }
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::MakeWatchMatcher(const v1::WatchStancesRequest& request,
                                                std::optional<StanceMatcher>* matcher) const {
  StanceFilter filter;
  if (auto s = ReadFilter(request, actors_, &filter); !s.ok()) return s;
  matcher->emplace(std::move(filter));
  return grpc::Status::OK;
}

namespace {

// A unary call whose response holds bytes of the budget until gRPC is done with it: sent and
// acknowledged by flow control, or the call cancelled (client gone, connection reaped).
class BudgetedAnswer final : public grpc::ServerUnaryReactor {
 public:
  BudgetedAnswer(MemoryBudget* budget, size_t bytes) : budget_(budget), bytes_(bytes) {
    Finish(grpc::Status::OK);
  }
  void OnDone() override {
    budget_->Release(bytes_);
    delete this;
  }

 private:
  MemoryBudget* budget_;
  size_t bytes_;
};

}  // namespace

grpc::Status QueryServiceImpl::CheckBudget(size_t bytes) const {
  if (!budget_ || (budget_->used() < budget_->limit() && bytes <= budget_->limit())) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "query-service holds " + std::to_string(budget_->used() >> 20) +
                          " MiB of answers its clients have not read yet (the limit is " +
                          std::to_string(budget_->limit() >> 20) + " MiB); try again later");
}

grpc::ServerUnaryReactor* QueryServiceImpl::Answer(grpc::CallbackServerContext* context,
                                                   grpc::Status status, size_t bytes,
                                                   const std::function<void()>& discard) {
  if (status.ok() && budget_) {
    if (budget_->TryReserve(bytes)) return new BudgetedAnswer(budget_, bytes);
    status = CheckBudget(SIZE_MAX);
    // Not sent, so not kept either: the call object would hold it until the call is done.
    discard();
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

namespace {

class RefusedWatch final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* QueryServiceImpl::ListStances(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request_bytes,
                                                        grpc::ByteBuffer* response) {
  grpc::Status status = Authorize(*context);
  v1::ListStancesRequest request;
  if (status.ok()) status = ParseRequest(*request_bytes, &request);
  // A full budget refuses before the work, not after it.
  if (status.ok()) status = CheckBudget(0);
  if (status.ok()) status = DoListStancesWire(request, response);
  // The response is one slice, sent as it is.
  return Answer(context, status, status.ok() ? response->Length() : 0,
                [response] { response->Clear(); });
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* QueryServiceImpl::AnswerRaw(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer& request_bytes,
    grpc::ByteBuffer* response_bytes,
    grpc::Status (QueryServiceImpl::*work)(const Request&, Response*)) {
  grpc::Status status = Authorize(*context);
  Request request;
  if (status.ok()) status = ParseRequest(request_bytes, &request);
  // A full budget refuses before the work, not after it.
  if (status.ok()) status = CheckBudget(0);
  Response response;
  if (status.ok()) status = (this->*work)(request, &response);
  if (status.ok()) status = SerializeToByteBuffer(response, response_bytes);
  // Encoded, the response is what the call holds while it is sent.
  return Answer(context, status, status.ok() ? response_bytes->Length() : 0,
                [response_bytes] { response_bytes->Clear(); });
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListActors(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return AnswerRaw(context, *request, response, &QueryServiceImpl::DoListActors);
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListConditions(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return AnswerRaw(context, *request, response, &QueryServiceImpl::DoListConditions);
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetActorTimeline(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return AnswerRaw(context, *request, response, &QueryServiceImpl::DoGetActorTimeline);
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListClaims(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return AnswerRaw(context, *request, response, &QueryServiceImpl::DoListClaims);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* QueryServiceImpl::WatchStances(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) return new RefusedWatch(allowed);
  if (!watch_hub_) {
    return new RefusedWatch(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                         "WatchStances is not enabled on this server"));
  }
  v1::WatchStancesRequest request;
  if (auto s = ParseRequest(*request_bytes, &request); !s.ok()) return new RefusedWatch(s);
  std::optional<StanceMatcher> matcher;
  if (auto s = MakeWatchMatcher(request, &matcher); !s.ok()) return new RefusedWatch(s);
  return watch_hub_->Watch(context, std::move(*matcher));
}

}  // namespace stancewire::query
