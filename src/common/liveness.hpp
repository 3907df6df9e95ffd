// Liveness: when this process's training thread last made progress (a batch, an evaluation
// chunk, a message to rank 0). The heartbeat thread (sweep/heartbeat.hpp) reports the time since
// then to rank 0, which tells a rank that is alive but stuck (a read that hangs on a network file
// system, a GPU that stopped answering) from one that is busy. One atomic store per call: cheap
// enough for every training step.
#pragma once

namespace anchorsweep::liveness {

void tick();                   // the training thread made progress now
double seconds_since_tick();   // since the last tick (or since start-up); 0 while waiting on peers

// While one lives, the training thread waits in a data-parallel group's collective for its
// peers: not stuck itself (a stuck peer is found by its own heartbeat, a dead one by its
// silence), so the heartbeat reports no stall. Ticks when it ends.
class WaitingOnPeers {
 public:
  WaitingOnPeers();
  ~WaitingOnPeers();
  WaitingOnPeers(const WaitingOnPeers&) = delete;
  WaitingOnPeers& operator=(const WaitingOnPeers&) = delete;
};

}  // namespace anchorsweep::liveness
