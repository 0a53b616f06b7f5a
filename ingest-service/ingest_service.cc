#include "ingest-service/ingest_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>

#include "common/byte_buffer.h"

namespace stancewire::ingest {
namespace {

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// Serializes each stance once: into the outbox's records and, from those same bytes, into the
// IngestResponse (its only field: repeated Stance stances = 1).
void EncodeStances(const std::vector<v1::Stance>& stances, StanceRecords* records,
                   grpc::ByteBuffer* response) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  constexpr uint8_t kTag = WireFormatLite::MakeTag(v1::IngestResponse::kStancesFieldNumber,
                                                   WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  std::string bytes;
  for (const auto& stance : stances) {
    std::string_view serialized = records->Add(stance);
    uint8_t header[1 + 5];  // tag, length (a varint32 takes at most 5 bytes)
    header[0] = kTag;
    uint8_t* end = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(serialized.size()),
                                                           header + 1);
    bytes.append(reinterpret_cast<const char*>(header), end - header);
    bytes.append(serialized);
  }
  *response = ByteBufferFromString(std::move(bytes));
}

std::string OverLimit(const std::string& what, size_t size, size_t limit, const char* flag) {
  return what + " is " + std::to_string(size) + " bytes, over the limit of " +
         std::to_string(limit) + (flag ? std::string(" (") + flag + ")" : "");
}

}  // namespace

std::string CheckStances(const std::vector<v1::Stance>& stances, const ItemLimits& limits) {
  if (stances.size() > limits.max_stances) {
    return "yields " + std::to_string(stances.size()) + " stances, over the limit of " +
           std::to_string(limits.max_stances) + " per item (--max-stances-per-item)";
  }
  size_t total = 0;
  for (const auto& s : stances) {
    const std::string who = "the stance of " + s.actor().id();
    if (s.evidence().text().size() > limits.max_evidence_bytes) {
      return OverLimit(who + ": evidence sentence", s.evidence().text().size(),
                       limits.max_evidence_bytes, "--max-evidence-bytes");
    }
    if (static_cast<size_t>(s.conditions_size()) > limits.max_conditions) {
      return who + " has " + std::to_string(s.conditions_size()) +
             " conditions, over the limit of " + std::to_string(limits.max_conditions);
    }
    for (const auto& c : s.conditions()) {
      if (c.text().size() > limits.max_condition_bytes) {
        return OverLimit(who + ": condition text", c.text().size(), limits.max_condition_bytes,
                         "--max-condition-bytes");
      }
    }
    total += s.ByteSizeLong();
  }
  if (total > limits.max_item_bytes) {
    return "yields " + std::to_string(stances.size()) + " stances of " + std::to_string(total) +
           " bytes in all, over the limit of " + std::to_string(limits.max_item_bytes) +
           " per item";
  }
  return "";
}

grpc::Status IngestServiceImpl::CheckRequest(const v1::ExtractRequest& request) const {
  const auto& item = request.item();
  if (item.id().empty()) {
    // Stance ids derive from the item id; without it re-ingesting could not be idempotent.
    return InvalidArgument("item.id is empty");
  }
  // Copied into every stance: bounded so that a stance's size follows from the limits below.
  const std::pair<const char*, const std::string*> fields[] = {{"id", &item.id()},
                                                               {"url", &item.url()},
                                                               {"outlet", &item.outlet()},
                                                               {"title", &item.title()},
                                                               {"language", &item.language()}};
  for (const auto& [name, value] : fields) {
    if (value->size() > limits_.max_field_bytes) {
      return InvalidArgument(
          OverLimit(std::string("item.") + name, value->size(), limits_.max_field_bytes, nullptr));
    }
  }
  std::string problem = extraction::ValidateItem(item, limits_.max_text_bytes);
  if (!problem.empty()) return InvalidArgument("item " + item.id() + ": " + problem);
  return grpc::Status::OK;
}

grpc::Status IngestServiceImpl::Admit(const grpc::CallbackServerContext& context, bool stores,
                                      const grpc::ByteBuffer& request_bytes,
                                      v1::ExtractRequest* request) const {
  if (authorizer_) {
    // Ingest stores, so it needs a writer; Extract stores nothing: readers and writers may dry-run.
    grpc::Status allowed = authorizer_->Authorize(context, "writer");
    if (!stores && allowed.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      allowed = authorizer_->Authorize(context, "reader");
    }
    if (!allowed.ok()) return allowed;
  }
  if (grpc::Status parsed = ParseRequest(request_bytes, request); !parsed.ok()) return parsed;
  return CheckRequest(*request);
}

grpc::ServerUnaryReactor* IngestServiceImpl::Ingest(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request_bytes,
                                                    grpc::ByteBuffer* response_bytes) {
  auto* reactor = context->DefaultReactor();
  v1::ExtractRequest request;  // same wire shape as IngestRequest
  grpc::Status status = Admit(*context, /*stores=*/true, *request_bytes, &request);
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  if (!outbox_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "this ingest-service has no outbox; use Extract"));
    return reactor;
  }
  std::vector<v1::Stance> stances = extractor_->Extract(request.item());
  if (std::string problem = CheckStances(stances, limits_); !problem.empty()) {
    reactor->Finish(InvalidArgument("item " + request.item().id() + " " + problem));
    return reactor;
  }
  StanceRecords records;
  EncodeStances(stances, &records, response_bytes);
  if (records.empty()) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  outbox_->Append(std::move(records), [reactor](const grpc::Status& s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerUnaryReactor* IngestServiceImpl::Extract(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request_bytes,
                                                     grpc::ByteBuffer* response_bytes) {
  auto* reactor = context->DefaultReactor();
  v1::ExtractRequest request;
  grpc::Status status = Admit(*context, /*stores=*/false, *request_bytes, &request);
  if (status.ok()) {
    extraction::ExtractOptions options;
    options.explain = request.explain();
    std::vector<v1::Stance> stances = extractor_->Extract(request.item(), options);
    // The same limits as Ingest (explanations aside), so that a dry run says what Ingest would.
    ItemLimits limits = limits_;
    if (options.explain) limits.max_item_bytes = SIZE_MAX;
    if (std::string problem = CheckStances(stances, limits); !problem.empty()) {
      status = InvalidArgument("item " + request.item().id() + " " + problem);
    } else {
      v1::ExtractResponse response;
      for (auto& s : stances) *response.add_stances() = std::move(s);
      status = SerializeToByteBuffer(response, response_bytes);
    }
  }
  reactor->Finish(status);
  return reactor;
}

}  // namespace stancewire::ingest
