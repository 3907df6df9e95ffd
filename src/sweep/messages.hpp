// Tasks and task outputs as comm::Messages: a JSON header plus binary blobs.
#pragma once

#include "comm/mpi_comm.hpp"
#include "sweep/coordinator.hpp"
#include "sweep/plan.hpp"
#include "sweep/task_output.hpp"

namespace anchorsweep {

comm::Message request_message(const std::vector<int64_t>& cached_seeds);
comm::Message result_message(const TaskOutput& out, const std::vector<int64_t>& cached_seeds);
comm::Message assignment_message(const Assignment& a);

std::vector<int64_t> cached_seeds_of(const comm::Message& m);   // from a request or result
TaskOutput task_output_of(comm::Message& m);                     // moves the blobs out
Task task_of(const comm::Message& m);
std::vector<int64_t> group_of(const comm::Message& m);          // a group task's members, leader first
std::vector<char> resume_of(comm::Message& m);                   // a task's checkpoint blob, moved out
// A finetune task's encoder: the blob rank 0 sent (moved out), or the run directory's file it
// named, read here and checked against the size and FNV-1a rank 0 wrote (a mismatch throws,
// naming both); empty when the rank holds the encoder already.
std::vector<char> encoder_of(comm::Message& m);

comm::Message epoch_message(const std::string& task_id, int64_t epoch, std::vector<char> state);
struct EpochNote {
  std::string task_id;
  int64_t epoch = 0;
  std::vector<char> state;
};
EpochNote epoch_of(comm::Message& m);

nlohmann::json to_json(const Task& t);
Task task_from_json(const nlohmann::json& j);

}  // namespace anchorsweep
