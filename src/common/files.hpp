// Small file, hashing and host helpers shared by every stage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// Paths and directories on POSIX calls alone: anchorsweep does not use std::filesystem. Upstream
// LibTorch (the pip wheels since 2.5, pytorch/pytorch#133437) exports its own statically linked
// copies of std::filesystem's functions; a program may bind to them, and with LibTorch 2.11 on
// a GPU machine std::filesystem::remove_all called address 0.
//
// `p` with "." and empty parts dropped and "name/.." folded, as std::filesystem's
// lexically_normal ("a/./b/../c" -> "a/c", "/x/../y" -> "/y", "a/.." -> ".").
std::string normalize_path(const std::string& p);
// Everything before the last '/': "" for a bare name, "/" for "/name".
std::string parent_dir(const std::string& p);
// `p` when absolute or `dir` is empty, else dir/p; normalized.
std::string join_path(const std::string& dir, const std::string& p);
bool is_directory(const std::string& path);
// The names in a directory, sorted, without "." and ".."; throws std::runtime_error.
std::vector<std::string> list_dir(const std::string& dir);
// rm -rf: a missing path is not an error; anything left behind throws std::runtime_error.
void remove_tree(const std::string& path);
// A symbolic link's target; "" when `path` is not a link.
std::string read_link(const std::string& path);
// $TMPDIR, else /tmp.
std::string temp_dir();

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
