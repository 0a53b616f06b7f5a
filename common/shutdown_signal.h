#pragma once

namespace stancewire {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards, so that
// WaitForShutdownSignal() can take them synchronously. Call first thing in main().
void BlockShutdownSignals();

// Waits until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForShutdownSignal();

}  // namespace stancewire
