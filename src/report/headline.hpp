// The headline of a sweep: where the adapters stand against the pretrained model alone (λ → ∞)
// and against training on B from scratch. "At a glance" and the console summary both lead with it.
//
// It compares on B dev, the split a λ is chosen on (test is for reporting the chosen setting,
// not for choosing it), and paired by seed (report/paired.hpp): a difference is called "above"
// or "below" only when its 95% interval over the seeds leaves out 0; the rest are named "not
// distinguishable with N seeds". With one seed it ranks nothing.
#pragma once

#include <string>
#include <vector>

#include "report/groups.hpp"

namespace anchorsweep {

// The split the headline compares on, and why, for the text around it.
inline constexpr EvalSplit kHeadlineSplit = EvalSplit::dev;

// One sentence per adapter init (and per baseline present). Empty when nothing compares.
std::vector<std::string> headline(const std::vector<Group>& groups);

// How the adapters stand against one reference setting on `split`, paired by seed:
// "every λ is below NAME beyond seed noise (by a to b points)", "λ = ... above (+d ± h); λ = ...
// not distinguishable from it", ... The caller names the reference (with its mean).
std::string compare_to_reference(const std::vector<const Group*>& adapters, const Group& reference,
                                 const std::string& name, EvalSplit split);

}  // namespace anchorsweep
