// An LD_PRELOAD shim for tests: flock() fails with the errno in FLOCK_FAILS_ERRNO (default
// ENOLCK), as it does on NFSv3 without lockd (ENOLCK) or Lustre mounted noflock (ENOSYS).
#include <cerrno>
#include <cstdlib>

extern "C" int flock(int, int) {
  const char* e = std::getenv("FLOCK_FAILS_ERRNO");
  errno = e ? std::atoi(e) : ENOLCK;
  return -1;
}
