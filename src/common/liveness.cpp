#include "common/liveness.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace anchorsweep::liveness {

namespace {
using Clock = std::chrono::steady_clock;
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
std::atomic<int64_t> g_last{now_ns()};
std::atomic<int> g_waiting{0};
}  // namespace

void tick() { g_last.store(now_ns(), std::memory_order_relaxed); }

double seconds_since_tick() {
  if (g_waiting.load(std::memory_order_relaxed) > 0) return 0;
  return static_cast<double>(now_ns() - g_last.load(std::memory_order_relaxed)) * 1e-9;
}

WaitingOnPeers::WaitingOnPeers() { ++g_waiting; }
WaitingOnPeers::~WaitingOnPeers() {
  tick();
  --g_waiting;
}

}  // namespace anchorsweep::liveness
