#include "ingest-service/extract_json.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstring>

namespace stancewire::ingest {
namespace {

// protobuf's printing of a one-field message, from `skip` bytes in up to the closing brace.
std::string Printed(const google::protobuf::Message& m, size_t skip, bool* ok = nullptr) {
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(m, &json);
  if (ok) *ok = status.ok();
  if (!status.ok() || json.size() < skip + 1) return "";
  return json.substr(skip, json.size() - skip - 1);
}

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r')) ++*i;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the JSON string starting at s[*i] == '"' into *out. False on anything unusual.
bool ReadString(std::string_view s, size_t* i, std::string* out) {
  out->clear();
  size_t p = *i + 1;
  for (;;) {
    size_t run = p;
    while (p < s.size() && s[p] != '"' && s[p] != '\\' && static_cast<unsigned char>(s[p]) >= 0x20)
      ++p;
    out->append(s.data() + run, p - run);
    if (p >= s.size() || static_cast<unsigned char>(s[p]) < 0x20) return false;
    if (s[p] == '"') break;
    if (p + 1 >= s.size()) return false;
    char e = s[p + 1];
    p += 2;
    switch (e) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '/':
        out->push_back('/');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        if (p + 4 > s.size()) return false;
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          int h = Hex(s[p + k]);
          if (h < 0) return false;
          cp = cp << 4 | h;
        }
        p += 4;
        // Surrogates and NUL are left to protobuf.
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        if (cp < 0x80) {
          out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default:
        return false;
    }
  }
  *i = p + 1;
  return true;
}

}  // namespace

bool ParseNewsItemFast(std::string_view line, google::protobuf::Message* message) {
  auto* item = dynamic_cast<v1::NewsItem*>(message);
  if (!item) return false;
  size_t i = 0;
  SkipSpace(line, &i);
  if (i >= line.size() || line[i] != '{') return false;
  ++i;
  SkipSpace(line, &i);
  unsigned seen = 0;
  std::string key;
  std::string published;  // the decoded string, parsed by protobuf
  if (i < line.size() && line[i] == '}') {
    ++i;
  } else {
    for (;;) {
      if (i >= line.size() || line[i] != '"' || !ReadString(line, &i, &key)) return false;
      SkipSpace(line, &i);
      if (i >= line.size() || line[i] != ':') return false;
      ++i;
      SkipSpace(line, &i);
      if (i >= line.size() || line[i] != '"') return false;
      std::string* field = nullptr;
      unsigned bit;
      if (key == "id") {
        field = item->mutable_id(), bit = 1;
      } else if (key == "url") {
        field = item->mutable_url(), bit = 2;
      } else if (key == "outlet") {
        field = item->mutable_outlet(), bit = 4;
      } else if (key == "title") {
        field = item->mutable_title(), bit = 8;
      } else if (key == "text") {
        field = item->mutable_text(), bit = 16;
      } else if (key == "language") {
        field = item->mutable_language(), bit = 32;
      } else if (key == "published") {
        bit = 64;
      } else {
        return false;
      }
      if (seen & bit) return false;
      seen |= bit;
      if (!ReadString(line, &i, field ? field : &published)) return false;
      SkipSpace(line, &i);
      if (i >= line.size()) return false;
      if (line[i] == '}') {
        ++i;
        break;
      }
      if (line[i] != ',') return false;
      ++i;
      SkipSpace(line, &i);
    }
  }
  SkipSpace(line, &i);
  if (i != line.size()) return false;
  if (seen & 64) {
    // TimeUtil::FromString is the parser the JSON converter applies to a Timestamp string
    // (internal::ParseTime, whose nanos need no normalising), without the converter's cost of
    // about as much as the whole extraction. Declined strings go to protobuf, which words the
    // error.
    google::protobuf::Timestamp stamp;
    if (!google::protobuf::util::TimeUtil::FromString(published, &stamp)) return false;
    *item->mutable_published() = stamp;
  }
  return true;
}

StanceJsonWriter::StanceJsonWriter() : bmp_state_(0x10000, 0) {
  for (int c = 0; c < 128; ++c) {
    v1::Actor a;
    a.set_id(std::string(1, static_cast<char>(c)));
    ascii_[c] = Printed(a, 7);
    if (ascii_[c].size() >= 2) ascii_[c] = ascii_[c].substr(0, ascii_[c].size() - 1);
    plain_[c] = ascii_[c].size() == 1;
  }
}

void StanceJsonWriter::EscapedCodePoint(char32_t cp, std::string_view bytes, std::string* out) {
  if (cp < 0x10000) {
    uint8_t& state = bmp_state_[cp];
    if (state == 1) {
      out->append(bytes);
      return;
    }
    if (state == 2) {
      out->append(escaped_[cp]);
      return;
    }
  } else if (auto it = escaped_.find(cp); it != escaped_.end()) {
    out->append(it->second);
    return;
  }
  v1::Actor a;
  a.set_id(std::string(bytes));
  std::string printed = Printed(a, 7);  // `"X"` without the leading quote
  if (!printed.empty()) printed.pop_back();
  if (cp < 0x10000 && printed == bytes) {
    bmp_state_[cp] = 1;
  } else {
    if (cp < 0x10000) bmp_state_[cp] = 2;
    escaped_[cp] = printed;
  }
  out->append(printed);
}

void StanceJsonWriter::String(std::string_view s, std::string* out) {
  out->push_back('"');
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    size_t run = i;
    // Letters, digits, space and most punctuation print as themselves (ascii_ says which).
    while (i < n && plain_[u[i]]) ++i;
    out->append(s.data() + run, i - run);
    if (i >= n) break;
    if (u[i] < 0x80) {
      out->append(ascii_[u[i]]);
      ++i;
      continue;
    }
    // Valid UTF-8 (the text was checked; stance strings are slices and folds of it).
    size_t len = u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : 2;
    if (i + len > n) len = n - i;
    char32_t cp = len == 2 ? (u[i] & 0x1F) : len == 3 ? (u[i] & 0x0F) : (u[i] & 0x07);
    for (size_t k = 1; k < len; ++k) cp = cp << 6 | (u[i + k] & 0x3F);
    EscapedCodePoint(cp, s.substr(i, len), out);
    i += len;
  }
  out->push_back('"');
}

bool StanceJsonWriter::Timestamp(const google::protobuf::Timestamp& ts, std::string* out) {
  if (ts.seconds() != last_seconds_ || ts.nanos() != last_nanos_) {
    v1::Stance s;
    *s.mutable_published() = ts;
    bool ok = false;
    std::string printed = Printed(s, 13, &ok);  // after {"published":
    if (!ok) return false;
    last_seconds_ = ts.seconds();
    last_nanos_ = ts.nanos();
    last_timestamp_ = std::move(printed);
  }
  out->append(last_timestamp_);
  return true;
}

void StanceJsonWriter::Float(float value, std::string* out) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  auto it = floats_.find(bits);
  if (it == floats_.end()) {
    v1::Stance s;
    s.set_confidence(value);
    it = floats_.emplace(bits, Printed(s, 14)).first;
  }
  out->append(it->second);
}

void StanceJsonWriter::Enum(int value, std::string* out) {
  auto it = enums_.find(value);
  if (it == enums_.end()) {
    v1::Stance s;
    s.set_position(static_cast<v1::Position>(value));
    it = enums_.emplace(value, Printed(s, 12)).first;
  }
  out->append(it->second);
}

namespace {

// One JSON object being printed: commas between its fields.
struct Object {
  std::string* out;
  bool first = true;
  explicit Object(std::string* o) : out(o) { out->push_back('{'); }
  void Key(const char* quoted_key_colon) {
    if (!first) out->push_back(',');
    first = false;
    out->append(quoted_key_colon);
  }
  void Close() { out->push_back('}'); }
};

}  // namespace

bool StanceJsonWriter::Append(const v1::Stance& s, std::string* out) {
  const size_t mark = out->size();
  // Fields in field-number order, defaults left out, as protobuf prints proto3.
  auto str = [&](Object& o, const char* key, const std::string& v) {
    if (v.empty()) return;
    o.Key(key);
    String(v, out);
  };
  auto u32 = [&](Object& o, const char* key, uint32_t v) {
    if (v == 0) return;
    o.Key(key);
    out->append(std::to_string(v));
  };
  auto strings = [&](Object& o, const char* key,
                     const google::protobuf::RepeatedPtrField<std::string>& v) {
    if (v.empty()) return;
    o.Key(key);
    out->push_back('[');
    for (int i = 0; i < v.size(); ++i) {
      if (i) out->push_back(',');
      String(v[i], out);
    }
    out->push_back(']');
  };
  Object o(out);
  str(o, "\"id\":", s.id());
  str(o, "\"itemId\":", s.item_id());
  if (s.has_actor()) {
    o.Key("\"actor\":");
    Object a(out);
    str(a, "\"id\":", s.actor().id());
    str(a, "\"name\":", s.actor().name());
    str(a, "\"mention\":", s.actor().mention());
    str(a, "\"kind\":", s.actor().kind());
    a.Close();
  }
  str(o, "\"topic\":", s.topic());
  if (s.position() != 0) {
    o.Key("\"position\":");
    Enum(s.position(), out);
  }
  if (!s.conditions().empty()) {
    o.Key("\"conditions\":[");
    for (int i = 0; i < s.conditions_size(); ++i) {
      if (i) out->push_back(',');
      const v1::Condition& c = s.conditions(i);
      Object co(out);
      str(co, "\"kind\":", c.kind());
      str(co, "\"text\":", c.text());
      u32(co, "\"start\":", c.start());
      u32(co, "\"end\":", c.end());
      co.Close();
    }
    out->push_back(']');
  }
  str(o, "\"attribution\":", s.attribution());
  if (s.has_evidence()) {
    o.Key("\"evidence\":");
    Object e(out);
    str(e, "\"text\":", s.evidence().text());
    u32(e, "\"start\":", s.evidence().start());
    u32(e, "\"end\":", s.evidence().end());
    e.Close();
  }
  str(o, "\"url\":", s.url());
  str(o, "\"outlet\":", s.outlet());
  if (s.has_published()) {
    o.Key("\"published\":");
    if (!Timestamp(s.published(), out)) {
      out->resize(mark);
      return false;
    }
  }
  str(o, "\"topicLabel\":", s.topic_label());
  str(o, "\"speaker\":", s.speaker());
  uint32_t confidence_bits;
  float confidence = s.confidence();
  std::memcpy(&confidence_bits, &confidence, sizeof confidence_bits);
  if (confidence_bits != 0) {  // proto3 leaves out +0 only
    o.Key("\"confidence\":");
    Float(confidence, out);
  }
  if (s.has_explanation()) {
    o.Key("\"explanation\":");
    Object x(out);
    strings(x, "\"cues\":", s.explanation().cues());
    strings(x, "\"holderRules\":", s.explanation().holder_rules());
    strings(x, "\"conditionPatterns\":", s.explanation().condition_patterns());
    x.Close();
  }
  o.Close();
  return true;
}

}  // namespace stancewire::ingest
