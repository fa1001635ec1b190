#include "runtime/embedded_clients.h"

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace sluice::runtime {
namespace {

Status write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  const std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::from_errno("creating " + tmp, errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::from_errno("writing " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0644);  // O_CREAT's mode is filtered by the umask; readers need 0644
  if (::close(fd) != 0) return Status::from_errno("closing " + tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::from_errno("renaming " + tmp, errno);
  }
  return Status();
}

}  // namespace

Status install_runtime_clients(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("creating " + dir.string() + ": " + ec.message());
  Status s = write_file_atomically(dir / kPythonClientFile, embedded_python_client());
  if (!s.ok()) return s;
  return write_file_atomically(dir / kNodeClientFile, embedded_node_client());
}

}  // namespace sluice::runtime
