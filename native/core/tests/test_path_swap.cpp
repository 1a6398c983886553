// The primitives of whole-directory saves: atomic exchange of two paths, and
// the save lock (exclusive, refused while held, released when its owner dies).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "expect_error.h"
#include "path_swap.h"

namespace {

std::string temp_dir() {
  char pattern[] = "/tmp/poser-swap-XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
  return dir;
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ExchangePaths, SwapsTwoDirectoriesInOneStep) {
  const std::string root = temp_dir();
  ::mkdir((root + "/a").c_str(), 0755);
  ::mkdir((root + "/b").c_str(), 0755);
  write_file(root + "/a/which", "old");
  write_file(root + "/b/which", "new");
  poser::exchange_paths(root + "/b", root + "/a");
  EXPECT_EQ(read_file(root + "/a/which"), "new");
  EXPECT_EQ(read_file(root + "/b/which"), "old");
}

TEST(ExchangePaths, AMissingPathIsAnIoErrorNamingIt) {
  const std::string root = temp_dir();
  ::mkdir((root + "/a").c_str(), 0755);
  expect_error([&] { poser::exchange_paths(root + "/a", root + "/missing"); }, "E_IO", {root + "/missing"});
}

TEST(LockPath, ASecondLockIsRefusedUntilTheFirstIsReleased) {
  const std::string lock = temp_dir() + "/.model.poser-lock";
  const int fd = poser::lock_path(lock);
  EXPECT_EQ(read_file(lock), std::to_string(::getpid()) + "\n");
  expect_error([&] { poser::lock_path(lock); }, "E_STATE", {lock, "pid " + std::to_string(::getpid())});
  poser::unlock_path(fd, lock);
  EXPECT_NE(::access(lock.c_str(), F_OK), 0);  // the file is removed
  poser::unlock_path(poser::lock_path(lock), lock);
}

TEST(LockPath, ALockWhoseOwnerDiedIsTakenOver) {
  const std::string lock = temp_dir() + "/.model.poser-lock";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    poser::lock_path(lock);
    ::_exit(0);  // dies holding the lock: the kernel releases it, the file stays
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(::access(lock.c_str(), F_OK), 0);
  poser::unlock_path(poser::lock_path(lock), lock);
}

}  // namespace
