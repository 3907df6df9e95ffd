#include "sweep/messages.hpp"

#include <stdexcept>

#include "common/files.hpp"

namespace anchorsweep {

nlohmann::json to_json(const Task& t) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& k : t.trials)
    trials.push_back({{"seed", k.seed}, {"kind", name_of(k.kind)}, {"lambda", k.lambda}, {"init", name_or_empty(k.init)}});
  return {{"id", t.id}, {"type", name_of(t.type)}, {"seed", t.seed}, {"trials", trials}};
}

Task task_from_json(const nlohmann::json& j) {
  Task t;
  t.id = j.at("id").get<std::string>();
  t.type = parse_name_or_throw<TaskType>(j.at("type").get<std::string>(), "task type");
  t.seed = j.at("seed").get<int64_t>();
  for (const auto& k : j.at("trials"))
    t.trials.push_back({k.at("seed").get<int64_t>(), parse_name_or_throw<TrialKind>(k.at("kind").get<std::string>(), "kind"),
                        k.at("lambda").get<double>(), parse_name_or_empty<AdapterInit>(k.value("init", std::string()), "init")});
  return t;
}

comm::Message request_message(const std::vector<int64_t>& cached_seeds) {
  return {comm::kRequest, nlohmann::json{{"cached", cached_seeds}}.dump(), {}};
}

comm::Message result_message(const TaskOutput& out, const std::vector<int64_t>& cached_seeds) {
  nlohmann::json h{{"cached", cached_seeds}, {"task", out.task_id}, {"type", name_of(out.type)}, {"seed", out.seed},
                   {"stopped", out.stopped}, {"group_member", out.group_member}};
  if (out.pretrain) h["pretrain"] = to_json(*out.pretrain);
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& r : out.trials) trials.push_back(to_json(r));
  h["trials"] = trials;
  comm::Message m{comm::kResult, h.dump(), {}};
  m.blobs.push_back(out.encoder);
  for (const auto& c : out.checkpoints) m.blobs.push_back(c);
  return m;
}

comm::Message assignment_message(const Assignment& a) {
  switch (a.kind) {
    case Assignment::task: {
      auto h = to_json(a.work);
      if (!a.group.empty()) h["group"] = a.group;
      if (!a.encoder_file.empty())
        h["encoder_file"] = {{"path", a.encoder_file}, {"size", a.encoder_size}, {"fnv1a", a.encoder_hash}};
      return {comm::kTask, h.dump(), {a.encoder, a.resume}};
    }
    case Assignment::wait: return {comm::kWait, "{}", {}};
    case Assignment::done: break;
  }
  return {comm::kStop, "{}", {}};
}

std::vector<int64_t> cached_seeds_of(const comm::Message& m) {
  return nlohmann::json::parse(m.header).value("cached", std::vector<int64_t>{});
}

TaskOutput task_output_of(comm::Message& m) {
  auto h = nlohmann::json::parse(m.header);
  TaskOutput out;
  out.task_id = h.at("task").get<std::string>();
  out.type = parse_name_or_throw<TaskType>(h.at("type").get<std::string>(), "task type");
  out.seed = h.at("seed").get<int64_t>();
  out.stopped = h.value("stopped", false);
  out.group_member = h.value("group_member", false);
  if (h.contains("pretrain")) out.pretrain = pretrain_from_json(h["pretrain"]);
  for (const auto& t : h.at("trials")) out.trials.push_back(trial_from_json(t));
  out.encoder = std::move(m.blobs.at(0));
  for (size_t i = 1; i < m.blobs.size(); ++i) out.checkpoints.push_back(std::move(m.blobs[i]));
  return out;
}

Task task_of(const comm::Message& m) { return task_from_json(nlohmann::json::parse(m.header)); }

std::vector<int64_t> group_of(const comm::Message& m) {
  return nlohmann::json::parse(m.header).value("group", std::vector<int64_t>{});
}

std::vector<char> resume_of(comm::Message& m) {
  return m.blobs.size() > 1 ? std::move(m.blobs[1]) : std::vector<char>{};
}

std::vector<char> encoder_of(comm::Message& m) {
  if (!m.blobs.empty() && !m.blobs[0].empty()) return std::move(m.blobs[0]);
  const auto h = nlohmann::json::parse(m.header);
  if (!h.contains("encoder_file")) return {};
  const auto& f = h["encoder_file"];
  const std::string path = f.at("path").get<std::string>(), want = f.at("fnv1a").get<std::string>();
  const int64_t size = f.at("size").get<int64_t>();
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + " (rank 0 named it as this task's encoder; set run.encoder_transfer = "
                             "\"bytes\" to send encoders over MPI instead)");
  }
  const std::string got = fnv1a_hex(bytes);
  if (static_cast<int64_t>(bytes.size()) != size || got != want)
    throw std::runtime_error(path + ": this rank reads " + std::to_string(bytes.size()) + " bytes with FNV-1a " + got +
                             ", but rank 0 wrote " + std::to_string(size) + " bytes with FNV-1a " + want +
                             ": the shared file system served a stale or partial copy; set run.encoder_transfer = "
                             "\"bytes\" to send encoders over MPI instead");
  return std::vector<char>(bytes.begin(), bytes.end());
}

comm::Message epoch_message(const std::string& task_id, int64_t epoch, std::vector<char> state) {
  comm::Message m{comm::kEpoch, nlohmann::json{{"task", task_id}, {"epoch", epoch}}.dump(), {}};
  m.blobs.push_back(std::move(state));
  return m;
}

EpochNote epoch_of(comm::Message& m) {
  auto h = nlohmann::json::parse(m.header);
  return {h.at("task").get<std::string>(), h.at("epoch").get<int64_t>(),
          m.blobs.empty() ? std::vector<char>{} : std::move(m.blobs[0])};
}

}  // namespace anchorsweep
