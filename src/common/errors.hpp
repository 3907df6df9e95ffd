// The errors every stage may raise. They live below everything so that data/, train/ and
// report/ can refuse bad input without knowing about config/.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace anchorsweep {

// Bad input of any kind (config, data, command line). main() prints what() and exits with 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A config file problem; the message reads `file:line:column: key: what is wrong`.
struct ConfigError : InputError {
  using InputError::InputError;
};

// Training produced a non-finite loss or weight. The trial ends as "diverged", not "failed".
struct DivergedError : std::runtime_error {
  DivergedError(int64_t epoch_, int64_t step_, std::string quantity_)
      : std::runtime_error("diverged: non-finite " + quantity_ + " at epoch " + std::to_string(epoch_) +
                           ", step " + std::to_string(step_)),
        epoch(epoch_), step(step_), quantity(std::move(quantity_)) {}
  int64_t epoch, step;      // 1-based epoch; 1-based step within it (0: found after the epoch)
  std::string quantity;     // "loss", "weights (dense.weight)", ...
};

}  // namespace anchorsweep
