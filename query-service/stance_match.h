// Backend-neutral pieces of the filter semantics (see StanceFilter): how a condition filter is
// read, and an in-memory matcher that agrees with the stores, used by WatchStances to decide which
// newly stored stances a watcher sees.
#pragma once

#include <string>
#include <vector>

#include "query-service/store/stance_store.h"

namespace stancewire::query {

class StanceMatcher {
 public:
  explicit StanceMatcher(StanceFilter filter);
  bool Matches(const v1::Stance& stance) const;
  const StanceFilter& filter() const { return filter_; }

 private:
  StanceFilter filter_;
  ConditionQuery condition_;
  std::vector<std::string> topic_words_;  // lower-cased
};

}  // namespace stancewire::query
