#include "query-service/store/sqlite/sqlite_filter.h"

namespace stancewire::query::sqlite_store {

grpc::Status TopicKeys(SqliteStanceStore::Reader* reader, const TopicFilter& topic,
                       std::vector<std::string>* keys) {
  Sql sql;
  sql.text = "SELECT DISTINCT topic FROM topic_labels WHERE topic = " + sql.P(topic.text) +
             " COLLATE NOCASE";
  const auto& words = topic.words;
  if (!words.empty()) {
    sql.text += " OR (1=1";
    for (const auto& w : words) {
      sql.text += " AND (topic || ' ' || label) LIKE " + sql.P(LikePattern(w)) + " ESCAPE '\\'";
    }
    sql.text += ")";
  }
  sql.text += " ORDER BY topic";
  std::string error;
  auto* stmt = reader->Statement(sql.text, &error);
  if (!stmt) return Internal("prepare", error);
  sql.BindAll(stmt);
  keys->clear();
  return ForEachRow(stmt, "topics", [&] {
    keys->emplace_back(stmt->ColumnText(0));
    return grpc::Status::OK;
  });
}

grpc::Status BuildFilter(SqliteStanceStore::Reader* reader, const StanceFilter& filter, Sql* sql,
                         FilterSql* out) {
  std::vector<std::string> topic_keys;
  if (!filter.topic.empty()) {
    grpc::Status status = TopicKeys(reader, filter.topic, &topic_keys);
    if (!status.ok()) return status;
    if (topic_keys.empty()) {
      out->none = true;
      return grpc::Status::OK;
    }
  }
  const ConditionQuery& condition = filter.condition.query;
  const bool by_kind = !filter.condition.empty() && condition.by_kind;
  const bool has_actor_ids = !filter.actor_ids.empty();
  // the speaker index drives when no actor does (not through the condition-kind rows)
  const bool drive_speaker = !by_kind && !has_actor_ids && !filter.speaker.empty();

  std::string& w = out->where;
  auto eq_or_in = [&](const std::string& column, const std::vector<std::string>& values) {
    if (values.size() == 1) return column + " = " + sql->P(values[0]);
    return column + " IN " + InList(sql, values);
  };

  if (by_kind) {
    out->from = "stance_kinds k JOIN stances s ON s.seq = k.stance_seq";
    out->published = "k.published";
    out->id = "k.stance_id";
    w += " AND k.kind = " + sql->P(condition.kind);
    if (has_actor_ids) w += " AND " + eq_or_in("k.actor_id", filter.actor_ids);
    if (filter.position != v1::POSITION_UNSPECIFIED) {
      w += " AND k.position = " + sql->P(static_cast<int64_t>(filter.position));
    }
    if (!topic_keys.empty()) w += " AND " + eq_or_in("+k.topic", topic_keys);
  } else {
    out->from = "stances s";
    out->published = "s.published";
    out->id = "s.id";
    const bool drive_actor = has_actor_ids;
    const bool drive_outlet = !drive_actor && !drive_speaker && !filter.outlet.empty();
    const bool drive_topic = !drive_actor && !drive_speaker && !drive_outlet && !topic_keys.empty();
    if (has_actor_ids) w += " AND " + eq_or_in("s.actor_id", filter.actor_ids);
    if (filter.position != v1::POSITION_UNSPECIFIED) {
      w += " AND +s.position = " + sql->P(static_cast<int64_t>(filter.position));
    }
    if (!topic_keys.empty()) {
      w += " AND " + eq_or_in(drive_topic ? "s.topic" : "+s.topic", topic_keys);
    }
    if (!filter.outlet.empty()) {
      w += std::string(" AND ") + (drive_outlet ? "s.outlet_folded" : "+s.outlet_folded") + " = " +
           sql->P(AsciiLower(filter.outlet));
    }
    if (!filter.condition.empty()) {
      // Words: a condition whose text holds every word, or whose kind is their upper-snake form.
      w +=
          " AND (EXISTS (SELECT 1 FROM stance_kinds kk WHERE kk.stance_seq = s.seq AND kk.kind = " +
          sql->P(condition.kind) + ")";
      if (!condition.words.empty()) {
        w += " OR EXISTS (SELECT 1 FROM stance_conditions c WHERE c.stance_seq = s.seq";
        for (const auto& word : condition.words) {
          w += " AND c.text LIKE " + sql->P(LikePattern(word)) + " ESCAPE '\\'";
        }
        w += ")";
      }
      w += ")";
    }
  }
  if (by_kind && !filter.outlet.empty()) {
    w += " AND +s.outlet_folded = " + sql->P(AsciiLower(filter.outlet));
  }
  if (!filter.speaker.empty()) {
    // the partial index's own term, so that the planner may use it (stances_by_speaker)
    w += std::string(" AND s.speaker_folded <> '' AND ") +
         (drive_speaker ? "s.speaker_folded" : "+s.speaker_folded") + " = " +
         sql->P(AsciiLower(filter.speaker));
  }
  if (filter.min_confidence) {
    w += " AND +s.confidence >= " + sql->P(static_cast<double>(*filter.min_confidence));
  }
  if (!filter.actor_text.empty() && !has_actor_ids) {
    std::string p = sql->P(filter.actor_text);
    w += " AND (s.actor_id = " + p + " COLLATE NOCASE OR s.actor_name = " + p +
         " COLLATE NOCASE OR s.actor_mention = " + p + " COLLATE NOCASE)";
  }
  // The topic names exactly one stored key: the key test above is the whole test.
  const bool exact_topic =
      topic_keys.size() == 1 && AsciiLower(topic_keys[0]) == AsciiLower(filter.topic.text);
  bool uses_s = !by_kind || !filter.outlet.empty() || !filter.speaker.empty() ||
                filter.min_confidence || (!filter.actor_text.empty() && !has_actor_ids);
  if (!filter.topic.empty() && !exact_topic) {
    uses_s = true;
    // Each stance against its own key and label (the keys above were candidates).
    w += " AND (s.topic = " + sql->P(filter.topic.text) + " COLLATE NOCASE";
    const auto& words = filter.topic.words;
    if (!words.empty()) {
      w += " OR (1=1";
      for (const auto& word : words) {
        w += " AND (s.topic || ' ' || s.topic_label) LIKE " + sql->P(LikePattern(word)) +
             " ESCAPE '\\'";
      }
      w += ")";
    }
    w += ")";
  }
  if (filter.published_after_nanos) {
    w += " AND " + out->published + " >= " + sql->P(*filter.published_after_nanos);
  }
  if (filter.published_before_nanos) {
    w += " AND " + out->published + " < " + sql->P(*filter.published_before_nanos);
  }
  out->count_from = uses_s ? out->from : "stance_kinds k";

  const bool countable =
      filter.outlet.empty() && filter.speaker.empty() && !filter.min_confidence &&
      !filter.published_after_nanos && !filter.published_before_nanos &&
      (has_actor_ids || filter.actor_text.empty()) && (filter.condition.empty() || by_kind) &&
      (filter.topic.empty() || exact_topic);
  if (countable) {
    Sql c;
    std::string where;
    auto in = [&](const std::string& column, const std::vector<std::string>& values) {
      return values.size() == 1 ? column + " = " + c.P(values[0])
                                : column + " IN " + InList(&c, values);
    };
    const bool by_position = filter.position != v1::POSITION_UNSPECIFIED;
    if (!has_actor_ids && topic_keys.empty()) {
      c.text = "SELECT COALESCE(SUM(n), 0) FROM totals WHERE kind = " +
               c.P(by_kind ? condition.kind : std::string());
    } else if (by_kind) {
      c.text =
          "SELECT COALESCE(SUM(n), 0) FROM condition_counts WHERE kind = " + c.P(condition.kind);
      if (has_actor_ids) c.text += " AND " + in("actor_id", filter.actor_ids);
      if (!topic_keys.empty()) c.text += " AND " + in("topic", topic_keys);
    } else {
      c.text = "SELECT COALESCE(SUM(n), 0) FROM actor_counts WHERE 1=1";
      if (has_actor_ids) c.text += " AND " + in("actor_id", filter.actor_ids);
      if (!topic_keys.empty()) c.text += " AND " + in("topic", topic_keys);
    }
    if (by_position) c.text += " AND position = " + c.P(static_cast<int64_t>(filter.position));
    out->counter = std::move(c);
  }
  return grpc::Status::OK;
}

void BuildListSql(const FilterSql& f, const ListOptions& options, Sql* sql) {
  const char* dir = options.oldest_first ? "ASC" : "DESC";
  const char* cmp = options.oldest_first ? ">" : "<";
  std::string where = f.where;
  if (options.after) {
    std::string p = sql->P(options.after->published_nanos);
    where += " AND (" + f.published + " " + cmp + " " + p + " OR (" + f.published + " = " + p +
             " AND " + f.id + " " + cmp + " " + sql->P(options.after->id) + "))";
  }
  sql->text = "SELECT s.body, s.published, s.id FROM " + f.from + " WHERE " + where + " ORDER BY " +
              f.published + " " + dir + ", " + f.id + " " + dir + " LIMIT " +
              sql->P(static_cast<int64_t>(options.limit) + 1);
}

}  // namespace stancewire::query::sqlite_store
