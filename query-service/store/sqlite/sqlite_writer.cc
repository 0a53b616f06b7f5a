// SqliteStanceStore::Upsert: one transaction per batch, the in-memory id index kept exact, and
// the counters adjusted once per key at the end of the transaction.
#include <algorithm>

#include "query-service/store/sqlite/sqlite_writer_state.h"

namespace stancewire::query {

using sqlite_store::Internal;

namespace {

// Binds `args` in order (without copying: they outlive the step) and runs the statement.
bool Run(SqliteStatement& stmt,
         std::initializer_list<std::variant<std::string_view, int64_t, double>> args,
         bool blob_last = false) {
  int i = 0;
  const int n = static_cast<int>(args.size());
  for (const auto& a : args) {
    ++i;
    if (const auto* v = std::get_if<int64_t>(&a)) {
      stmt.Bind(i, *v);
    } else if (const auto* d = std::get_if<double>(&a)) {
      stmt.Bind(i, *d);
    } else if (blob_last && i == n) {
      stmt.BindBlobView(i, std::get<std::string_view>(a));
    } else {
      stmt.BindView(i, std::get<std::string_view>(a));
    }
  }
  return stmt.Run();
}

}  // namespace

grpc::Status SqliteStanceStore::Upsert(const std::vector<v1::Stance>& stances, UpsertResult* result,
                                       const std::vector<std::string_view>* wire) {
  std::lock_guard lock(write_mu_);
  if (result) result->changed.clear();
  WriterState& w = *writer_state_;
  std::string error;
  if (!writer_.Exec("BEGIN IMMEDIATE", &error)) return Internal("begin", error);
  int64_t version = 0;
  if (w.data_version.Step() == SQLITE_ROW) version = w.data_version.ColumnInt(0);
  w.data_version.Reset();
  grpc::Status status = grpc::Status::OK;
  if (version != w.known_version) {  // another connection wrote: what we knew may be stale
    w.labels.clear();
    w.actors.clear();
    w.claim_keys.clear();
    if (!w.CatchUp(writer_, &error)) status = Internal("read ids", error);
  }
  w.ids.BeginTransaction();
  if (status.ok()) status = UpsertLocked(stances, result, wire);
  if (status.ok() && !writer_.Exec("COMMIT", &error)) status = Internal("commit", error);
  if (!status.ok()) {
    std::string ignored;
    writer_.Exec("ROLLBACK", &ignored);
    if (result) result->changed.clear();
    w.EndTransaction(/*committed=*/false, version);
    return status;
  }
  w.EndTransaction(/*committed=*/true, version);
  return grpc::Status::OK;
}

grpc::Status SqliteStanceStore::UpsertLocked(const std::vector<v1::Stance>& stances,
                                             UpsertResult* result,
                                             const std::vector<std::string_view>* wire) {
  WriterState& w = *writer_state_;
  std::string encoded, joined, outlet_folded, speaker_folded;
  std::string_view body;  // the stance's wire form: as it arrived, or encoded here
  std::vector<std::string_view> kinds;
  for (size_t i = 0; i < stances.size(); ++i) {
    const auto& s = stances[i];
    if (wire) {
      body = (*wire)[i];
    } else {
      s.SerializeToString(&encoded);
      body = encoded;
    }
    const int64_t published = TimestampNanos(s.published());
    const int64_t position = static_cast<int64_t>(s.position());
    // Sorted, distinct, and pointing into the stance: the counter keys outlive this iteration.
    kinds.clear();
    for (const auto& c : s.conditions()) {
      if (!c.kind().empty()) kinds.push_back(c.kind());
    }
    std::sort(kinds.begin(), kinds.end());
    kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
    joined.clear();
    for (const auto& k : kinds) {
      if (!joined.empty()) joined += ',';
      joined += k;
    }
    std::string claim_error;
    const int64_t claim_key =
        w.ClaimKey(writer_, s.actor().id(), s.topic(), position, joined, &claim_error);
    if (claim_key == 0) return Internal("upsert " + s.id(), "claim: " + claim_error);
    outlet_folded = AsciiLower(s.outlet());
    speaker_folded = AsciiLower(s.speaker());
    // the float exactly, as filters compare it (StanceFilter::min_confidence)
    const double confidence = s.confidence();
    const auto fail = [&](const SqliteStatement& stmt) {
      return Internal("upsert " + s.id(),
                      stmt.error().empty() ? writer_.last_error() : stmt.error());
    };
    int64_t seq = 0;
    bool stored = false, hash_taken = false;
    const auto found = w.ids.Find(s.id(), &seq);
    if (found != StanceIdIndex::Lookup::kAbsent) {
      // Stored before (a redelivery, identical: nothing to do; or a revision), or another id
      // with the same hash.
      w.find_stance.Bind(1, seq);
      if (w.find_stance.Step() != SQLITE_ROW) {
        w.find_stance.Reset();
        return Internal("upsert " + s.id(), "row " + std::to_string(seq) + " is missing");
      }
      stored = found == StanceIdIndex::Lookup::kExact || w.find_stance.ColumnText(0) == s.id();
      hash_taken = !stored;
      const bool same = stored && w.find_stance.ColumnBlob(5) == body;
      if (stored && !same) {
        std::vector<std::string_view> old_kinds;
        for (const auto& k : SplitKinds(w.find_stance.ColumnText(4))) {
          old_kinds.push_back(w.Keep(k));
        }
        w.Count(w.Keep(w.find_stance.ColumnText(1)), w.Keep(w.find_stance.ColumnText(2)),
                w.find_stance.ColumnInt(3), old_kinds, -1);
      }
      w.find_stance.Reset();
      if (same) continue;
    }
    if (!stored) {
      if (!Run(w.insert_stance,
               {s.id(), s.item_id(), s.actor().id(), s.actor().name(), s.actor().mention(),
                s.topic(), s.topic_label(), position, s.outlet(), outlet_folded, published, joined,
                claim_key, speaker_folded, confidence, body},
               /*blob_last=*/true)) {
        return fail(w.insert_stance);
      }
      seq = sqlite3_last_insert_rowid(writer_.handle());
      w.ids.Add(s.id(), seq, hash_taken);
    } else if (!Run(w.update_stance,
                    {seq, s.item_id(), s.actor().id(), s.actor().name(), s.actor().mention(),
                     s.topic(), s.topic_label(), position, s.outlet(), outlet_folded, published,
                     joined, claim_key, speaker_folded, confidence, body},
                    /*blob_last=*/true) ||
               !Run(w.clear_conditions, {seq}) || !Run(w.clear_kinds, {seq})) {
      return fail(w.update_stance);
    }
    w.Count(s.actor().id(), s.topic(), position, kinds, +1);
    for (int c = 0; c < s.conditions_size(); ++c) {
      if (!Run(w.add_condition,
               {seq, int64_t{c}, s.conditions(c).kind(), s.conditions(c).text()})) {
        return fail(w.add_condition);
      }
    }
    for (const auto& kind : kinds) {
      if (!Run(w.add_kind, {seq, kind, s.id(), s.actor().id(), s.topic(), position, published})) {
        return fail(w.add_kind);
      }
    }
    for (const std::string& label : {std::string(), s.topic_label()}) {
      w.scratch.assign(s.topic()).append("\x1f").append(label);
      if (w.labels.count(w.scratch)) continue;
      w.labels.insert(w.scratch);
      if (!Run(w.add_label, {s.topic(), label})) return fail(w.add_label);
    }
    auto known = w.actors.find(s.actor().id());
    if (known == w.actors.end() || known->second.first != s.actor().name() ||
        known->second.second != s.actor().kind()) {
      if (!Run(w.put_actor, {s.actor().id(), s.actor().name(), s.actor().kind()})) {
        return fail(w.put_actor);
      }
      w.actors[s.actor().id()] = {s.actor().name(), s.actor().kind()};
    }
    if (result) result->changed.push_back(i);
  }
  // The counters, once per key for the whole transaction.
  for (const auto& [key, n] : w.actor_deltas) {
    if (n == 0) continue;
    const auto& [actor, topic, position] = key;
    if (!Run(w.add_actor_count, {actor, topic, position, n}) ||
        (n < 0 && !Run(w.drop_actor_count, {actor, topic, position}))) {
      return Internal("actor counts", writer_.last_error());
    }
  }
  for (const auto& [key, n] : w.condition_deltas) {
    if (n == 0) continue;
    const auto& [kind, actor, topic, position] = key;
    if (!Run(w.add_condition_count, {kind, actor, topic, position, n}) ||
        (n < 0 && !Run(w.drop_condition_count, {kind, actor, topic, position}))) {
      return Internal("condition counts", writer_.last_error());
    }
  }
  for (const auto& [key, n] : w.total_deltas) {
    if (n != 0 && !Run(w.add_total, {key.first, key.second, n})) {
      return Internal("totals", writer_.last_error());
    }
  }
  return grpc::Status::OK;
}

}  // namespace stancewire::query
