// How a backend reports its own failures: a generic INTERNAL for the client, the detail in the
// log. A database's message can quote SQL and name tables, columns, hosts and users.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

namespace stancewire::query {

// Logs "store: WHAT failed: DETAIL" and returns INTERNAL naming only `what`.
grpc::Status StoreInternal(const std::string& what, const std::string& detail);

}  // namespace stancewire::query
