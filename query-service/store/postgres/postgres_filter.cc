#include "query-service/store/postgres/postgres_filter.h"

namespace stancewire::query::postgres_store {

void BuildWhere(const StanceFilter& filter, Sql* sql, std::string* where) {
  std::string& w = *where;
  w = "TRUE";
  if (!filter.actor_ids.empty()) {
    w += filter.actor_ids.size() == 1
             ? " AND s.actor_id = " + sql->P(filter.actor_ids[0])
             : " AND s.actor_id = ANY(" + sql->PArray(filter.actor_ids) + ")";
  } else if (!filter.actor_text.empty()) {
    const std::string p = Fold(sql->P(filter.actor_text));
    w += " AND (" + Fold("s.actor_id") + " = " + p + " OR " + Fold("s.actor_name") + " = " + p +
         " OR " + Fold("s.actor_mention") + " = " + p + ")";
  }
  if (filter.position != v1::POSITION_UNSPECIFIED) {
    w += " AND s.position = " + sql->P(static_cast<int64_t>(filter.position));
  }
  if (!filter.topic.empty()) {
    w += " AND (" + Fold("s.topic") + " = " + Fold(sql->P(filter.topic.text));
    const auto& words = filter.topic.words;
    if (!words.empty()) {
      w += " OR (TRUE";
      for (const auto& word : words) {
        w += " AND strpos(" + Fold("s.topic || ' ' || s.topic_label") + ", " + Fold(sql->P(word)) +
             ") > 0";
      }
      w += ")";
    }
    w += ")";
  }
  if (!filter.outlet.empty()) {
    w += " AND lower(s.outlet) = " + Fold(sql->P(filter.outlet));
  }
  if (!filter.speaker.empty()) {
    // the partial index's own term, so that the planner may use it (stances_by_speaker)
    w += " AND s.speaker <> '' AND " + Fold("s.speaker") + " = " + Fold(sql->P(filter.speaker));
  }
  if (filter.min_confidence) {
    w += " AND s.confidence >= " + sql->PReal(*filter.min_confidence);
  }
  if (!filter.condition.empty()) {
    const ConditionQuery& condition = filter.condition.query;
    w += " AND (EXISTS (SELECT 1 FROM stance_kinds k WHERE k.stance_id = s.id AND k.kind = " +
         sql->P(condition.kind) + ")";
    if (!condition.by_kind && !condition.words.empty()) {
      w += " OR EXISTS (SELECT 1 FROM stance_conditions c WHERE c.stance_id = s.id";
      for (const auto& word : condition.words) {
        w += " AND strpos(" + Fold("c.text") + ", " + Fold(sql->P(word)) + ") > 0";
      }
      w += ")";
    }
    w += ")";
  }
  if (filter.published_after_nanos) {
    w += " AND s.published >= " + sql->P(*filter.published_after_nanos);
  }
  if (filter.published_before_nanos) {
    w += " AND s.published < " + sql->P(*filter.published_before_nanos);
  }
}

grpc::Status TopicKeys(PostgresStanceStore::Conn* conn, const TopicFilter& topic,
                       std::vector<std::string>* keys) {
  Sql sql;
  sql.text = "SELECT DISTINCT topic FROM topic_labels WHERE " + Fold("topic") + " = " +
             Fold(sql.P(topic.text));
  const auto& words = topic.words;
  if (!words.empty()) {
    sql.text += " OR (TRUE";
    for (const auto& w : words) {
      sql.text += " AND strpos(" + Fold("topic || ' ' || label") + ", " + Fold(sql.P(w)) + ") > 0";
    }
    sql.text += ")";
  }
  sql.text += " ORDER BY topic";
  Result r;
  grpc::Status status = conn->Exec(sql, "topics", &r);
  if (!status.ok()) return status;
  keys->clear();
  for (int i = 0; i < PQntuples(r.get()); ++i) keys->emplace_back(Bytes(r.get(), i, 0));
  return grpc::Status::OK;
}

}  // namespace stancewire::query::postgres_store
