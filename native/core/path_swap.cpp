#include "path_swap.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

namespace poser {

void exchange_paths(const std::string& a, const std::string& b) {
#ifdef SYS_renameat2
  // The raw syscall: older C libraries have no renameat2() wrapper.
  if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return;
  const int err = errno;
  if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP)
    throw Error("E_IO", "cannot exchange " + a + " and " + b +
                            " atomically: this filesystem or kernel lacks renameat2(RENAME_EXCHANGE) (" +
                            std::strerror(err) + ")");
  throw Error("E_IO", "cannot exchange " + a + " and " + b + ": " + std::strerror(err));
#else
  throw Error("E_IO", "cannot exchange " + a + " and " + b + ": renameat2 is not available on this platform");
#endif
}

int lock_path(const std::string& path) {
  // Retry when the file we locked was unlinked by its previous owner between
  // our open() and flock(): the lock must be on the file the name refers to.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error("E_IO", path + ": cannot create lock file: " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      std::string owner;
      char buf[64] = {0};
      const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      if (n > 0) owner = std::string(buf, static_cast<size_t>(n));
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
      ::close(fd);
      if (err == EWOULDBLOCK)
        throw Error("E_STATE", path + " is held by another save in progress" +
                                   (owner.empty() ? std::string() : " (pid " + owner + ")") +
                                   "; saves to one directory run one at a time");
      throw Error("E_IO", path + ": cannot lock: " + std::strerror(err));
    }
    struct stat by_fd {}, by_name {};
    if (::fstat(fd, &by_fd) == 0 && ::stat(path.c_str(), &by_name) == 0 && by_fd.st_dev == by_name.st_dev &&
        by_fd.st_ino == by_name.st_ino) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int err = errno;
        ::unlink(path.c_str());
        ::close(fd);
        throw Error("E_IO", path + ": cannot write lock owner: " + std::strerror(err));
      }
      return fd;
    }
    ::close(fd);
  }
  throw Error("E_STATE", path + ": the lock file keeps being replaced; another save is in progress");
}

void unlock_path(int fd, const std::string& path) {
  ::unlink(path.c_str());
  ::close(fd);
}

}  // namespace poser
