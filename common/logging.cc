#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace stancewire {

bool InitLogging(const std::string& service_name, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(service_name);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v");
  auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    spdlog::error("unknown log level '{}'", level);
    return false;
  }
  spdlog::set_level(parsed);
  return true;
}

}  // namespace stancewire
