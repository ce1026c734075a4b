// The accepted plan of a journaled run, read back and checked as a plan file is checked, for
// `run --resume` and `runs show`.
#pragma once

#include <string>

#include "core/status.h"
#include "orchestrator/plan.h"
#include "orchestrator/roles.h"
#include "store/journal.h"

namespace ollamaflow::flow {

// Reads the accepted plan of run `run_id` and checks it with plan_from_json and validate_plan,
// so that a resumed run never runs a plan that a plan file could not pass. The task count limit
// (run.max_tasks) is not applied: the plan passed the limit of its run when it was accepted, and
// a lower limit configured since does not damage it. It also checks that every task journaled
// for the run is in the plan. Returns the journal's kNotFound when the run has no accepted plan
// and its kCorrupt when the column is not JSON. A plan that is JSON but fails the checks was
// changed outside ollama-flow, so it is kCorrupt too, and the message names the journal, the run
// and every problem.
Result<orchestrator::Plan> read_journaled_plan(store::Journal& journal, const std::string& run_id,
                                               const orchestrator::RoleSet& roles);

}  // namespace ollamaflow::flow
