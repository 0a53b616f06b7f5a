// libFuzzer target: any bytes as a news item's text. Checks that extraction never crashes, and
// that every offset it reports points at the text it claims.
#include <cstdlib>
#include <iostream>
#include <string>

#include "extraction/extractor.h"

namespace {

const stancewire::extraction::Extractor& Get() {
  static std::unique_ptr<stancewire::extraction::Extractor> ex = [] {
    stancewire::extraction::ExtractorConfig config;
    const char* dir = std::getenv("STANCEWIRE_DATA_DIR");
    config.data_dir = dir ? dir : STANCEWIRE_FUZZ_DATA_DIR;
    std::string error;
    auto e = stancewire::extraction::Extractor::Load(config, &error);
    if (!e) {
      std::cerr << "extractor_fuzz: " << error << "\n";
      std::abort();
    }
    return e;
  }();
  return *ex;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& ex = Get();
  stancewire::v1::NewsItem item;
  item.set_id("fuzz");
  item.set_text(std::string(reinterpret_cast<const char*>(data), size));
  (void)stancewire::extraction::ValidateItem(item, 1 << 20);
  stancewire::extraction::ExtractOptions options;
  options.explain = size % 2 == 0;
  const std::string& text = item.text();
  for (const auto& s : ex.Extract(item, options)) {
    const auto& ev = s.evidence();
    if (ev.end() < ev.start() || ev.end() > text.size() ||
        text.compare(ev.start(), ev.end() - ev.start(), ev.text()) != 0) {
      std::abort();
    }
    for (const auto& c : s.conditions()) {
      if (c.end() < c.start() || c.end() > text.size() ||
          text.compare(c.start(), c.end() - c.start(), c.text()) != 0) {
        std::abort();
      }
    }
    if (!(s.confidence() >= 0.0f && s.confidence() <= 1.0f)) std::abort();
  }
  return 0;
}
