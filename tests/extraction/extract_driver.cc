// Test driver: reads NewsItem JSON Lines (proto3 JSON, unknown fields ignored) and writes one
// Stance per line, like `ingest-service extract`, without the service around it.
//   extract_driver --data DIR [--explain] [--actors FILE]... [FILE]
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "extraction/extractor.h"

namespace {

int Run(int argc, char** argv) {
  stancewire::extraction::ExtractorConfig config;
  stancewire::extraction::ExtractOptions options;
  std::string file;
  std::vector<std::string> resolve;  // --resolve ALIAS: print the actor it names and exit
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) {
      config.data_dir = argv[++i];
    } else if (a == "--actors" && i + 1 < argc) {
      config.extra_actor_files.push_back(argv[++i]);
    } else if (a == "--resolve" && i + 1 < argc) {
      resolve.push_back(argv[++i]);
    } else if (a == "--explain") {
      options.explain = true;
    } else {
      file = a;
    }
  }
  std::string error;
  auto extractor = stancewire::extraction::Extractor::Load(config, &error);
  if (!extractor) {
    std::cerr << "extract_driver: " << error << "\n";
    return 1;
  }
  if (!resolve.empty()) {
    for (const auto& alias : resolve) {
      const auto* r = extractor->actors().Resolve(alias);
      std::cout << alias << "\t" << (r ? r->id + "\t" + r->name + "\t" + r->kind : "-") << "\n";
    }
    return 0;
  }
  std::ifstream in_file;
  std::istream* in = &std::cin;
  if (!file.empty()) {
    in_file.open(file);
    if (!in_file) {
      std::cerr << "extract_driver: cannot open " << file << "\n";
      return 1;
    }
    in = &in_file;
  }
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = false;
  std::string line;
  size_t number = 0;
  while (std::getline(*in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    stancewire::v1::NewsItem item;
    auto status = google::protobuf::util::JsonStringToMessage(line, &item, parse);
    if (!status.ok()) {
      std::cerr << "extract_driver: line " << number << ": " << status.ToString() << "\n";
      return 1;
    }
    std::string problem = stancewire::extraction::ValidateItem(item, 16 << 20);
    if (!problem.empty()) {
      std::cerr << "extract_driver: line " << number << ": " << problem << "\n";
      continue;
    }
    for (const auto& stance : extractor->Extract(item, options)) {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(stance, &json, print);
      std::cout << json << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
