// The extraction pipeline's coordinator. Per item: segmentation; then, per sentence, the stages
// in order: mentions, clause subjects, coreference within the sentence, cues, reporting clauses,
// quoted speakers, condition spans, cue attachment, condition attachment, contributions, and the
// salience carried to the next sentence; then the topic registry and the merge. Each stage lives
// in extraction/stages/ with its contract in its header (docs/extraction.md); this file only
// calls them in order and, when asked (ExtractOptions::trace, STANCEWIRE_EXTRACTION_DEBUG),
// collects what each stage decided. Every stage is linear in the sentence, so time is linear in
// the text.
#include "extraction/extractor.h"

#include <cstdio>
#include <cstdlib>

#include "common/timestamps.h"
#include "extraction/pipeline.h"
#include "extraction/stages/topics.h"

namespace stancewire::extraction {

void AnalyseSentence(const Knowledge& k, uint32_t si, const Trace& trace, ItemAnalysis* st,
                     SentenceAnalysis* a) {
  const Document& doc = st->doc;
  const std::vector<Token>& t = doc.tokens;
  const Sentence& sen = doc.sentences[si];
  const uint32_t b = sen.first_token, e = sen.end_token;

  FindMentions(k, doc, b, e, &a->mentions);
  ResolveNames(doc, b, e, st->discourse, &a->mentions);
  LearnNames(doc, a->mentions, &st->discourse);
  MarkSubjects(t, b, e, &a->mentions);
  ResolveInSentence(k, t, b, st->discourse, &a->mentions);
  FindCues(k.lex, t, b, e, a->mentions, &a->cues);
  FindClauses(k, t, b, e, a->mentions, a->cues, &a->clauses);
  ResolveQuotedSpeakers(a->clauses, &a->mentions);
  FindConditionSpans(k.lex, t, b, e, a->clauses, &a->conditions);
  const SentenceView view(k, doc, b, e, a->mentions, a->clauses, a->conditions.in_condition,
                          st->discourse.salient_actor);
  AttachCues(view, a->cues, &a->assignments);
  if (trace.on()) {
    trace.Raw("S%u: %.*s", si, static_cast<int>(sen.end - sen.start), doc.text.data() + sen.start);
    TraceMentions(trace, k, doc, a->mentions);
    TraceClauses(trace, k, doc, b, e, a->mentions, a->clauses);
    TraceCoreference(trace, k, doc, a->mentions, st->discourse);
    TraceConditionSpans(trace, doc, a->conditions);
    TraceCues(trace, view, a->cues, a->assignments);
  }
  AttachConditions(view, a->cues, a->assignments, a->conditions, st->explain, trace, &a->attached);
  EmitContributions(view, si, a->cues, a->assignments, &a->attached, &st->contributions);
  UpdateSalience(k, a->assignments.FirstHolder(), a->mentions, &st->discourse);
  LearnLists(k, t, a->mentions, &st->discourse);
}

namespace {

// Tokens whose storage a thread keeps between items (4 MB); a larger item's buffer is released.
constexpr size_t kKeepTokens = 1 << 16;
constexpr size_t kKeepContributions = 1 << 12;  // likewise for contributions (about 1 MB)

class ExtractorImpl : public Extractor {
 public:
  bool Init(const ExtractorConfig& config, std::string* error) { return k_.Load(config, error); }

  const ActorDictionary& actors() const override { return k_.actors; }

  std::vector<v1::Stance> Extract(const v1::NewsItem& item,
                                  const ExtractOptions& options) const override;

 private:
  Knowledge k_;
  bool debug_ = std::getenv("STANCEWIRE_EXTRACTION_DEBUG") != nullptr;
};

std::vector<v1::Stance> ExtractorImpl::Extract(const v1::NewsItem& item,
                                               const ExtractOptions& options) const {
  const std::string& text = item.text();
  if (text.empty() || text.size() >= UINT32_MAX) return {};
  if (FindInvalidUtf8(text) != std::string_view::npos) return {};  // see ValidateItem

  std::string debug_trace;
  std::string* trace_out = options.trace ? options.trace : (debug_ ? &debug_trace : nullptr);
  const Trace trace(trace_out);
  trace.Raw("item %s", item.id().c_str());
  // per thread, so that the token and contribution buffers keep their storage across items
  thread_local ItemAnalysis st;
  st.doc.text = text;
  st.doc.date = PublicationDate(item);
  st.discourse = Discourse();
  st.contributions.clear();
  st.explain = options.explain;
  Segment(k_.lex, &st.doc);
  trace.Line("segmentation", "%zu tokens, %zu sentences", st.doc.tokens.size(),
             st.doc.sentences.size());
  thread_local SentenceAnalysis sentence;  // storage reused across sentences and items
  for (uint32_t si = 0; si < st.doc.sentences.size(); ++si) {
    AnalyseSentence(k_, si, trace, &st, &sentence);
  }
  std::vector<v1::Stance> out;
  if (!st.contributions.empty()) {
    ItemTopics topics;
    FindTopics(k_, st.doc, &topics);
    TraceTopics(trace, topics);
    out = MergeStances(k_, item, st.doc, topics, st.contributions, options.explain);
    for (const v1::Stance& s : out) {
      if (!trace.on()) break;
      trace.Line("merge", "%s %s on %s", s.actor().id().c_str(),
                 v1::Position_Name(s.position()).c_str(), s.topic().c_str());
    }
  }
  if (st.doc.tokens.capacity() > kKeepTokens) std::vector<Token>().swap(st.doc.tokens);
  if (st.contributions.capacity() > kKeepContributions) {
    std::vector<Contribution>().swap(st.contributions);
  }
  if (!debug_trace.empty()) std::fputs(debug_trace.c_str(), stderr);
  return out;
}

}  // namespace

std::unique_ptr<Extractor> Extractor::Load(const ExtractorConfig& config, std::string* error) {
  auto impl = std::make_unique<ExtractorImpl>();
  std::string err;
  if (!impl->Init(config, &err)) {
    if (error) *error = err;
    return nullptr;
  }
  return impl;
}

std::string ValidateItem(const v1::NewsItem& item, size_t max_text_bytes) {
  const std::string& text = item.text();
  if (text.empty()) return "text is empty";
  if (text.size() > max_text_bytes) {
    return "text is " + std::to_string(text.size()) + " bytes, over the limit of " +
           std::to_string(max_text_bytes);
  }
  size_t bad = FindInvalidUtf8(text);
  if (bad != std::string_view::npos)
    return "text is not valid UTF-8 at byte " + std::to_string(bad);
  if (item.has_published()) return PublishedProblem("published", item.published());
  return "";
}

}  // namespace stancewire::extraction
