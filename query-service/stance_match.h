// What a watcher matches newly stored stances with: its filter, read once from the request, and
// the filter model's in-memory semantics (Matches in store/stance_filter.h), which every store
// agrees with.
#pragma once

#include <utility>

#include "query-service/store/stance_filter.h"

namespace stancewire::query {

class StanceMatcher {
 public:
  explicit StanceMatcher(StanceFilter filter) : filter_(std::move(filter)) {}
  bool Matches(const v1::Stance& stance) const { return query::Matches(filter_, stance); }
  const StanceFilter& filter() const { return filter_; }

 private:
  StanceFilter filter_;
};

}  // namespace stancewire::query
