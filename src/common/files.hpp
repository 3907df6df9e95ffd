// Small file, hashing and host helpers shared by every stage.
#pragma once

#include <cstdint>
#include <string>

namespace anchorsweep {

// Whole file as a string; throws InputError "PATH: cannot read: <reason>".
std::string read_file(const std::string& path);

// Writes PATH.tmp.<pid>, fsyncs it, renames it over PATH and fsyncs the directory:
// a reader sees the old file or the new one, never half of one. Every failing write, fsync,
// close or rename throws std::runtime_error; none is ignored.
void write_file_atomic(const std::string& path, const std::string& content);

// mkdir -p, each new directory fsynced into its parent; throws std::runtime_error on failure.
void make_dirs(const std::string& path);

// fsync a directory, so the entries created or renamed in it survive a crash. Throws on error.
void fsync_directory(const std::string& dir);

// unlink + fsync of the directory; a missing file is not an error.
void remove_file_durably(const std::string& path);

bool file_exists(const std::string& path);

// This machine's host name (what the lock file and `anchorsweep status` name rank 0's host by).
std::string local_host();

// Size and 64-bit FNV-1a of a file's bytes, read in chunks: what resume compares, so that a
// data file replaced under the same path is noticed. Throws InputError when unreadable.
struct FileFingerprint {
  uint64_t size = 0;
  std::string hash;
};
FileFingerprint fingerprint_file(const std::string& path);

// 64-bit FNV-1a over bytes, as 16 hex digits. Stable across machines and runs.
std::string fnv1a_hex(const void* data, size_t size);
inline std::string fnv1a_hex(const std::string& s) { return fnv1a_hex(s.data(), s.size()); }

}  // namespace anchorsweep
