// Extraction throughput on one core over a corpus of at least 10 MB, next to `wc -w` over the
// same text in the same run.
//   extraction_bench [--data DIR] [--seed FILE.jsonl]... [--mb N]
// Seeds are JSON Lines with a "text" field (default: tests/extraction/constructions.jsonl; the
// development corpus can be added with --seed ../shared/corpus/dev.jsonl). The corpus is built by
// repeating the seed texts with actor names, numbers and sentence order varied, grouped into
// items of about 2 KB.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "extraction/extractor.h"

namespace {

using Clock = std::chrono::steady_clock;

// CPU seconds of this thread: throughput per core stays meaningful on a busy machine.
double ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ChildrenCpu() {
  rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

std::vector<std::string> ReadTexts(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    google::protobuf::Struct item;  // any JSON object: gold corpora carry extra fields
    if (google::protobuf::util::JsonStringToMessage(line, &item, options).ok()) {
      auto it = item.fields().find("text");
      if (it != item.fields().end() && !it->second.string_value().empty()) {
        out.push_back(it->second.string_value());
      }
    }
  }
  return out;
}

std::vector<std::string> SplitParagraphs(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  for (const auto& t : texts) {
    size_t a = 0;
    while (a < t.size()) {
      size_t b = t.find('\n', a);
      if (b == std::string::npos) b = t.size();
      if (b > a) out.push_back(t.substr(a, b - a));
      a = b + 1;
    }
  }
  return out;
}

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t p = s->find(from); p != std::string::npos; p = s->find(from, p + to.size())) {
    s->replace(p, from.size(), to);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "data";
  std::vector<std::string> seeds;
  double mb = 12;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc)
      data = argv[++i];
    else if (a == "--seed" && i + 1 < argc)
      seeds.push_back(argv[++i]);
    else if (a == "--mb" && i + 1 < argc)
      mb = std::atof(argv[++i]);
    else {
      std::cerr << "usage: extraction_bench [--data DIR] [--seed FILE.jsonl]... [--mb N]\n";
      return 2;
    }
  }
  if (seeds.empty()) seeds.push_back("tests/extraction/constructions.jsonl");

  stancewire::extraction::ExtractorConfig config;
  config.data_dir = data;
  std::string error;
  auto t0 = Clock::now();
  auto extractor = stancewire::extraction::Extractor::Load(config, &error);
  double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!extractor) {
    std::cerr << "extraction_bench: " << error << "\n";
    return 1;
  }

  std::vector<std::string> texts;
  for (const auto& s : seeds) {
    auto t = ReadTexts(s);
    texts.insert(texts.end(), t.begin(), t.end());
  }
  std::vector<std::string> paragraphs = SplitParagraphs(texts);
  if (paragraphs.empty()) {
    std::cerr << "extraction_bench: no seed texts\n";
    return 1;
  }
  // Vary the seeds so that the corpus is not one paragraph cached a million times.
  const std::vector<std::pair<std::string, std::string>> swaps = {
      {"Azerbaijan", "Kazakhstan"}, {"Baku", "Astana"},    {"Turkey", "Indonesia"},
      {"Egypt", "Morocco"},         {"Cairo", "Rabat"},    {"20,000", "12,500"},
      {"Monday", "Thursday"},       {"Gaza", "the Sahel"}, {"Poland", "Romania"}};
  std::mt19937 rng(7);
  std::vector<stancewire::v1::NewsItem> items;
  size_t bytes = 0;
  const size_t target = static_cast<size_t>(mb * 1024 * 1024);
  while (bytes < target) {
    std::string text;
    while (text.size() < 2000) {
      std::string p = paragraphs[rng() % paragraphs.size()];
      const auto& sw = swaps[rng() % swaps.size()];
      ReplaceAll(&p, sw.first, sw.second);
      text += p;
      text += "\n";
    }
    stancewire::v1::NewsItem item;
    item.set_id("bench-" + std::to_string(items.size()));
    item.set_outlet("Bench Wire");
    item.set_text(std::move(text));
    bytes += item.text().size();
    items.push_back(std::move(item));
  }

  // wc -w over the same text, in the same run, as the floor reference.
  char path[] = "/tmp/extraction_bench_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  {
    std::ofstream out(path, std::ios::binary);
    for (const auto& item : items) out << item.text();
  }
  auto w0 = Clock::now();
  double wc_cpu0 = ChildrenCpu();
  std::string cmd = std::string("wc -w < ") + path + " > /dev/null";
  int rc = std::system(cmd.c_str());
  double wc_s = std::chrono::duration<double>(Clock::now() - w0).count();
  double wc_cpu = ChildrenCpu() - wc_cpu0;  // includes the shell, a few ms
  std::remove(path);

  // Warm up, then the measured pass.
  for (size_t i = 0; i < std::min<size_t>(items.size(), 50); ++i) extractor->Extract(items[i]);
  size_t stances = 0;
  auto e0 = Clock::now();
  double cpu0 = ThreadCpu();
  for (const auto& item : items) stances += extractor->Extract(item).size();
  double ex_s = std::chrono::duration<double>(Clock::now() - e0).count();
  double ex_cpu = ThreadCpu() - cpu0;

  double total_mb = static_cast<double>(bytes) / (1024 * 1024);
  std::printf("corpus: %.1f MB in %zu items (from %zu seed paragraphs)\n", total_mb, items.size(),
              paragraphs.size());
  std::printf("load: %.0f ms\n", load_ms);
  std::printf(
      "extraction (1 core): %.2f s wall, %.2f s CPU: %.1f MB/s, %.0f items/s (CPU time); "
      "%.1f MB/s wall; %zu stances\n",
      ex_s, ex_cpu, total_mb / ex_cpu, static_cast<double>(items.size()) / ex_cpu, total_mb / ex_s,
      stances);
  std::printf("wc -w (same text): %.2f s wall, %.2f s CPU: %.1f MB/s (CPU time)%s\n", wc_s, wc_cpu,
              total_mb / wc_cpu, rc == 0 ? "" : " (wc failed)");
  std::printf("ratio extraction / wc -w throughput (CPU time): %.3f\n", wc_cpu / ex_cpu);
  return 0;
}
