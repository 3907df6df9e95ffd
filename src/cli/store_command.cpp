// anchorsweep store [STORE]: list the encoder store's entries, and remove them by age or size.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.hpp"
#include "common/errors.hpp"
#include "common/files.hpp"
#include "rundir/encoder_store.hpp"

namespace anchorsweep::cli {

namespace {

std::string size_text(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%.0f KB", static_cast<double>(bytes) / 1024);
  return buf;
}

std::string age_text(double s) {
  char buf[32];
  if (s < 3600)
    std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  else if (s < 86400 * 2)
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  else
    std::snprintf(buf, sizeof buf, "%.0f days", s / 86400);
  return buf;
}

}  // namespace

Command add_store_command(CLI::App& app) {
  struct Options {
    std::string path = "runs/encoder-store";
    double older_than_days = -1, max_size_mb = -1;
    bool fields = false;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("store", "List the encoder store (pretrained encoders and scratch baselines that sweeps reuse; "
                                          "see docs/encoder-store.md): each entry's kind, seed, size, age, the run that made "
                                          "it and the runs that reused it; remove entries by age or total size.");
  sub->add_option("STORE", o->path, "the store's folder (run.encoder_store; default runs/encoder-store)");
  sub->add_flag("--fields", o->fields, "also print what each entry's key covers");
  sub->add_option("--older-than", o->older_than_days, "remove entries made more than this many days ago")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-size", o->max_size_mb, "remove the oldest entries until the store holds at most this many MB")
      ->check(CLI::NonNegativeNumber);
  return {sub, [o] {
            if (!is_directory(o->path)) throw InputError(o->path + ": no encoder store here (a sweep makes one under its output_dir)");
            const EncoderStore store(o->path);
            auto entries = store.list();  // oldest first
            uint64_t total = 0;
            for (const auto& e : entries) total += e.bytes;
            int removed = 0;
            for (const auto& e : entries) {
              const bool old = o->older_than_days >= 0 && e.age_s > o->older_than_days * 86400;
              const bool over = o->max_size_mb >= 0 && static_cast<double>(total) > o->max_size_mb * (1 << 20);
              if (!old && !over) continue;
              store.remove(e.key);
              total -= e.bytes;
              ++removed;
              std::cout << "removed " << e.key << " (" << (e.kind.empty() ? "broken" : e.kind) << ", seed " << e.seed << ", "
                        << size_text(e.bytes) << ", " << age_text(e.age_s) << " old)\n";
            }
            if (removed) entries = store.list();
            std::cout << "encoder store " << o->path << ": " << entries.size() << " entries, " << size_text(total) << "\n";
            if (entries.empty()) return 0;
            std::printf("  %-16s  %-8s  %4s  %9s  %9s  %s\n", "key", "kind", "seed", "size", "age", "made by; reused by");
            for (const auto& e : entries) {
              std::string used;
              for (const auto& u : e.used_by) used += (used.empty() ? "" : ", ") + u;
              if (!e.problem.empty()) {
                std::printf("  %-16s  %-8s  %4s  %9s  %9s  BROKEN: %s\n", e.key.c_str(), "?", "?", size_text(e.bytes).c_str(),
                            age_text(e.age_s).c_str(), e.problem.c_str());
                continue;
              }
              std::printf("  %-16s  %-8s  %4lld  %9s  %9s  %s; %s\n", e.key.c_str(), e.kind.c_str(), static_cast<long long>(e.seed),
                          size_text(e.bytes).c_str(), age_text(e.age_s).c_str(), e.made_by.c_str(),
                          used.empty() ? "not reused yet" : used.c_str());
              if (o->fields)
                for (const auto& f : e.fields) std::printf("      %s\n", f.c_str());
            }
            return 0;
          }};
}

}  // namespace anchorsweep::cli
