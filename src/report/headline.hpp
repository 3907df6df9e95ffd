// The headline of a sweep: where the adapters stand against the pretrained model alone (λ → ∞)
// and against training on B from scratch, in mean test micro-F1. "At a glance" and the console
// summary both lead with it.
#pragma once

#include <string>
#include <vector>

#include "report/groups.hpp"

namespace anchorsweep {

// One sentence per adapter init (and per baseline present), e.g. "every λ is below the
// pretrained model alone, by 3.1 to 10.1 points (test micro-F1)". Empty when nothing compares.
std::vector<std::string> headline(const std::vector<Group>& groups);

}  // namespace anchorsweep
