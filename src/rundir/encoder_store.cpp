#include "rundir/encoder_store.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.hpp"

namespace anchorsweep {

namespace {

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

double file_age_s(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return std::difftime(std::time(nullptr), st.st_mtime);
}

}  // namespace

StoreKey make_store_key(std::vector<std::string> fields) {
  std::sort(fields.begin(), fields.end());
  std::string text;
  for (const auto& f : fields) text += f + "\n";
  return {fnv1a_hex(text), std::move(fields)};
}

std::optional<StoreEntry> EncoderStore::get(const std::string& key, std::string* problem) const {
  const std::string dir = entry_dir(key);
  if (!file_exists(dir + "/entry.json")) return std::nullopt;
  try {
    StoreEntry e;
    e.key = key;
    e.info = nlohmann::json::parse(read_file(dir + "/entry.json"));
    const std::string bytes = read_file(dir + "/payload.pt");
    e.payload.assign(bytes.begin(), bytes.end());
    const uint64_t size = e.info.at("payload_size").get<uint64_t>();
    const std::string hash = e.info.at("payload_fnv1a").get<std::string>();
    if (e.payload.size() != size || fnv1a_hex(e.payload.data(), e.payload.size()) != hash) {
      if (problem)
        *problem = dir + "/payload.pt: " + std::to_string(e.payload.size()) + " bytes with FNV-1a " +
                   fnv1a_hex(e.payload.data(), e.payload.size()) + ", but entry.json says " + std::to_string(size) +
                   " bytes with FNV-1a " + hash + " (truncated or corrupt)";
      return std::nullopt;
    }
    return e;
  } catch (const std::exception& ex) {
    if (problem) *problem = dir + ": unreadable entry: " + ex.what();
    return std::nullopt;
  }
}

void EncoderStore::put(const StoreKey& key, const std::string& kind, int64_t seed, const nlohmann::json& record,
                       const std::vector<char>& payload, const std::string& made_by) {
  if (std::string problem; get(key.hash, &problem)) return;  // a valid entry has these very bits
  make_dirs(path_);
  // Made whole in a folder of its own, then renamed into place: readers see all of it or none.
  static std::atomic<uint64_t> writes{0};  // one folder per write, also for two writers in one process
  const std::string tmp = path_ + "/.tmp-" + key.hash + "-" + local_host() + "-" + std::to_string(::getpid()) + "-" +
                          std::to_string(writes++);
  remove_tree(tmp);
  make_dirs(tmp);
  write_file_atomic(tmp + "/payload.pt", std::string(payload.begin(), payload.end()));
  const nlohmann::json info = {{"key", key.hash},
                               {"kind", kind},
                               {"seed", seed},
                               {"fields", key.fields},
                               {"record", record},
                               {"payload_size", payload.size()},
                               {"payload_fnv1a", fnv1a_hex(payload.data(), payload.size())},
                               {"made", now_iso()},
                               {"made_by", made_by}};
  write_file_atomic(tmp + "/entry.json", info.dump(1) + "\n");  // each fsynced, and the folder
  const std::string dir = entry_dir(key.hash);
  if (file_exists(dir) && !get(key.hash, nullptr)) {
    // A broken entry (a crash cannot leave one, a disk can): set aside, then replaced.
    const std::string old = dir + ".broken-" + std::to_string(::getpid());
    if (::rename(dir.c_str(), old.c_str()) == 0) remove_tree(old);
  }
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    const int e = errno;
    remove_tree(tmp);
    // Another sweep stored this key first: its entry has the same bits.
    if (e == EEXIST || e == ENOTEMPTY) return;
    throw std::runtime_error(dir + ": cannot store the entry: " + std::strerror(e));
  }
  fsync_directory(path_);
}

void EncoderStore::note_use(const std::string& key, const std::string& run_dir) const {
  const std::string path = entry_dir(key) + "/uses.jsonl";
  const std::string line = nlohmann::json{{"run", run_dir}, {"when", now_iso()}}.dump() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(path + ": cannot append: " + std::strerror(errno));
}

std::vector<StoreEntryInfo> EncoderStore::list() const {
  std::vector<StoreEntryInfo> out;
  if (!is_directory(path_)) return out;
  for (const auto& name : list_dir(path_)) {
    if (name.empty() || name[0] == '.' || !is_directory(path_ + "/" + name)) continue;
    StoreEntryInfo i;
    i.key = name;
    const std::string dir = entry_dir(name);
    for (const auto& f : list_dir(dir)) i.bytes += file_size(dir + "/" + f);
    i.age_s = file_age_s(dir + "/entry.json");
    std::string problem;
    if (auto e = get(name, &problem)) {
      i.kind = e->info.value("kind", "");
      i.seed = e->info.value("seed", int64_t{0});
      i.made_by = e->info.value("made_by", "");
      i.fields = e->info.value("fields", std::vector<std::string>{});
      if (file_exists(dir + "/uses.jsonl")) {
        const std::string text = read_file(dir + "/uses.jsonl");
        size_t at = 0;
        while (at < text.size()) {
          const size_t end = std::min(text.find('\n', at), text.size());
          const auto j = nlohmann::json::parse(text.substr(at, end - at), nullptr, /*allow_exceptions=*/false);
          if (j.is_object()) i.used_by.push_back(j.value("run", ""));  // a torn last line is skipped
          at = end + 1;
        }
      }
    } else {
      i.problem = problem.empty() ? dir + ": no entry.json" : problem;
    }
    out.push_back(std::move(i));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.age_s > b.age_s; });
  return out;
}

void EncoderStore::remove(const std::string& key) const {
  const std::string dir = entry_dir(key), gone = path_ + "/.removing-" + key + "-" + std::to_string(::getpid());
  if (::rename(dir.c_str(), gone.c_str()) != 0) return;  // already gone
  fsync_directory(path_);
  remove_tree(gone);
}

}  // namespace anchorsweep
