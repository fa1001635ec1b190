#include "runtime/internal/environment.h"

#include "base/check.h"
#include "base/log.h"
#include "runtime/internal/log_lines.h"

#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <filesystem>
#include <signal.h>
#include <string_view>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sluice::runtime::internal {
namespace asio = boost::asio;
using Kind = function::InvokeOutcome::Kind;
namespace {

constexpr size_t kTailBytes = 4096;           // X-Amz-Log-Type: Tail (spec 6.2)
constexpr size_t kMaxLineBytes = 256 * 1024;  // a longer line is split
constexpr size_t kReadChunk = 64 * 1024;

std::shared_ptr<spdlog::logger> logger() {
  static auto log = logging::get("runtime");
  return log;
}

}  // namespace

// ---- LogFile ----

Result<std::shared_ptr<LogFile>> LogFile::open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Status::io_error("creating the directory of " + path + ": " + ec.message());
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::from_errno("opening " + path, errno);
  return std::make_shared<LogFile>(fd);
}

LogFile::~LogFile() { ::close(fd_); }

void LogFile::write_line(std::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::write(fd_, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!warned_) logger()->warn("function log write failed: {}", std::strerror(errno));
      warned_ = true;
      return;
    }
    done += static_cast<size_t>(n);
  }
}

// ---- Environment ----

Result<std::shared_ptr<Environment>> Environment::start(const InvokerStrand& strand, Config config,
                                                        std::mt19937_64& rng) {
  auto env = std::make_shared<Environment>(strand, std::move(config));
  const Config& c = env->config_;
  env->log_stream_ = internal::log_stream_name(std::chrono::system_clock::now(), rng);
  env->trace_rng_.seed(rng());

  auto server = RuntimeApiServer::start(strand, env.get());
  if (!server.ok()) {
    env->end();
    return server.status();
  }
  env->server_ = std::move(*server);
  env->runtime_api_ = "127.0.0.1:" + std::to_string(env->server_->port());

  std::error_code ec;
  std::filesystem::create_directories(c.scratch_dir, ec);
  if (ec) {
    env->end();
    return Status::io_error("creating " + c.scratch_dir + ": " + ec.message());
  }

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    const int err = errno;
    env->end();
    return Status::from_errno("pipe", err);
  }
  SpawnRequest request;
  request.argv = c.plan.argv;
  request.envp = build_environment(c.spec, c.plan.family,
                                   EnvironmentValues{.runtime_api = env->runtime_api_,
                                                     .clients_dir = c.clients_dir,
                                                     .scratch_dir = c.scratch_dir,
                                                     .log_stream_name = env->log_stream_,
                                                     .interpreter_dir = c.plan.interpreter_dir,
                                                     .endpoint_url = c.endpoint_url});
  request.cwd = c.spec.task_root;
  request.output_fd = fds[1];
  env->spawned_at_ = std::chrono::steady_clock::now();
  auto pid = spawn_process(request);
  ::close(fds[1]);
  if (!pid.ok()) {
    ::close(fds[0]);
    env->end();
    return pid.status();
  }
  env->pid_ = *pid;
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  env->output_.assign(fds[0]);

  if (c.address_space_headroom_mb > 0 && c.plan.family != RuntimeFamily::kNode) {
    // Applied right after exec: the interpreter's first few milliseconds run unlimited.
    const rlim_t bytes =
        static_cast<rlim_t>(c.spec.memory_mb + c.address_space_headroom_mb) * 1024 * 1024;
    const struct rlimit limit { bytes, bytes };
    if (::prlimit(env->pid_, RLIMIT_AS, &limit, nullptr) != 0) {
      logger()->warn("function={} pid={} RLIMIT_AS not applied: {}", c.spec.name, env->pid_,
                     std::strerror(errno));
    }
  }

  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, env->pid_, 0));
  if (pidfd < 0) {
    const int err = errno;
    env->kill_and_reap_now();
    return Status::from_errno("pidfd_open", err);
  }
  env->pidfd_.assign(pidfd);
  logger()->info("function={} env={} pid={} port={} started: {}", c.spec.name, c.id, env->pid_,
                 env->server_->port(), c.plan.argv.back());
  env->wait_output();
  env->wait_exit();
  env->init_timer_.expires_after(c.init_timeout);
  env->init_timer_.async_wait([self = env](const boost::system::error_code& e) {
    if (e || self->ready_ || self->ended_) return;
    logger()->warn("function={} env={} init did not finish in {} ms", self->config_.spec.name,
                   self->config_.id, self->config_.init_timeout.count());
    self->timed_out();
  });
  return env;
}

Environment::Environment(const InvokerStrand& strand, Config config)
    : config_(std::move(config)),
      output_(strand),
      pidfd_(strand),
      deadline_timer_(strand),
      init_timer_(strand),
      idle_timer_(strand),
      kill_timer_(strand) {}

Environment::~Environment() {
  // end() ran unless start() failed before the process existed.
  if (server_) server_->stop();
}

void Environment::assign(function::Invocation invocation, function::Invoker::Done done) {
  SLUICE_CHECK(available(), "assign() to a busy or ended environment {}", config_.id);
  ++idle_generation_;
  idle_timer_.cancel();
  const auto wall_left = invocation.deadline - std::chrono::system_clock::now();
  active_.emplace(Active{std::move(invocation), std::move(done), {}, false, {}});
  deadline_timer_.expires_after(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(wall_left));
  deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e && self->active_) self->timed_out();
  });
  offer_current();
}

void Environment::offer_current() {
  function::Invocation& inv = active_->invocation;
  RuntimeApiServer::Offer offer;
  offer.request_id = inv.request_id;
  offer.deadline_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(inv.deadline.time_since_epoch())
          .count();
  offer.function_arn = inv.function_arn.empty() ? config_.spec.arn : inv.function_arn;
  offer.trace_id = inv.trace_id.empty() ? new_trace_id(std::chrono::system_clock::now(), trace_rng_)
                                        : inv.trace_id;
  offer.client_context = inv.client_context;
  offer.tenant_id = inv.tenant_id;
  offer.payload = std::move(inv.payload);  // the event is not needed here any more
  server_->offer(std::move(offer));
}

void Environment::on_ready() {
  ready_ = true;
  init_timer_.cancel();
  init_duration_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - spawned_at_)
          .count();
}

void Environment::on_dispatched(const std::string& request_id) {
  if (!active_ || active_->invocation.request_id != request_id) return;
  active_->started = true;
  active_->started_at = std::chrono::steady_clock::now();
  emit(start_line(request_id));
}

void Environment::on_response(const std::string& request_id, std::string body,
                              std::string content_type) {
  if (!active_ || active_->invocation.request_id != request_id) return;
  finish(Kind::kOk, std::move(body), std::nullopt, std::move(content_type));
}

void Environment::on_error(const std::string& request_id, std::string body) {
  if (!active_ || active_->invocation.request_id != request_id) return;
  finish(Kind::kFunctionError, std::move(body));
}

void Environment::on_init_error(std::string body) {
  // Spec 7.4: the invocation that triggered init fails with the posted body; the runtime is
  // expected to exit by itself, and is killed if it has not within a second.
  retiring_ = true;
  finish(Kind::kFunctionError, std::move(body));
  kill_timer_.expires_after(std::chrono::seconds(1));
  kill_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e && !self->ended_) self->kill_group(SIGKILL);
  });
}

void Environment::on_response_too_large(const std::string& request_id) {
  if (!active_ || active_->invocation.request_id != request_id) return;
  finish(Kind::kFunctionError, response_too_large_document());
}

void Environment::timed_out() {
  if (active_) {
    const double timeout_s = config_.spec.timeout_s;
    finish(
        Kind::kTimedOut, timed_out_document(active_->invocation.request_id, timeout_s),
        timeout_line(std::chrono::system_clock::now(), active_->invocation.request_id, timeout_s));
  }
  // Spec 5.1 reset: the environment cannot be trusted any more.
  retiring_ = true;
  if (server_) server_->abandon();
  kill_group(SIGKILL);
}

void Environment::finish(Kind kind, std::string payload, std::optional<std::string> engine_line,
                         std::string content_type) {
  if (!active_) return;
  drain_output();  // lines the handler printed before answering belong to this invocation
  const auto now = std::chrono::steady_clock::now();
  const std::string id = active_->invocation.request_id;
  if (!active_->started) {
    active_->started = true;
    active_->started_at = now;
    emit(start_line(id));
  }
  if (engine_line) emit(*engine_line);
  emit(end_line(id));
  ReportFields report;
  report.duration_ms = std::chrono::duration<double, std::milli>(now - active_->started_at).count();
  report.memory_size_mb = config_.spec.memory_mb;
  report.max_memory_used_mb = max_memory_used_mb();
  report.init_duration_ms = init_duration_ms_;
  init_duration_ms_.reset();
  emit(report_line(id, report));

  Active done = std::move(*active_);
  active_.reset();
  deadline_timer_.cancel();
  function::InvokeOutcome outcome;
  outcome.kind = kind;
  outcome.payload = std::move(payload);
  outcome.content_type = std::move(content_type);
  const size_t keep = std::min(done.tail.size(), kTailBytes);
  outcome.log_tail = done.tail.substr(done.tail.size() - keep);
  done.done(std::move(outcome));
  if (config_.owner != nullptr) config_.owner->invocation_finished(*this);
  if (available()) arm_idle_timer();
}

void Environment::arm_idle_timer() {
  const uint64_t generation = idle_generation_;
  idle_timer_.expires_after(config_.idle_lifetime);
  idle_timer_.async_wait([self = shared_from_this(),
                          generation](const boost::system::error_code& e) {
    if (e || generation != self->idle_generation_ || !self->available()) return;
    logger()->info("function={} env={} idle, retiring", self->config_.spec.name, self->config_.id);
    self->retire();
  });
}

void Environment::retire() {
  if (ended_ || (retiring_ && pid_ < 0)) return;
  const bool first = !retiring_;
  retiring_ = true;
  if (!first) return;
  kill_group(SIGTERM);
  kill_timer_.expires_after(config_.stop_grace);
  kill_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e && !self->ended_) self->kill_group(SIGKILL);
  });
}

void Environment::kill_group(int signo) {
  // The group id is the leader's pid, which cannot be reused before we reap the leader.
  if (pid_ > 0 && !ended_) ::kill(-pid_, signo);
}

void Environment::kill_and_reap_now() {
  if (ended_) return;
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    on_exit(status);
  } else {
    end();
  }
}

void Environment::wait_output() {
  output_.async_wait(asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& e) {
                       if (e || self->ended_) return;
                       self->drain_output();
                       if (self->output_.is_open()) self->wait_output();
                     });
}

// Reads whatever the pipe holds now, without blocking, and emits the complete lines. Closes
// the pipe at end of file (every writer has gone).
void Environment::drain_output() {
  if (!output_.is_open()) return;
  char buf[kReadChunk];
  for (;;) {
    const ssize_t n = ::read(output_.native_handle(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN: nothing more for now
    if (n == 0) {
      if (!partial_line_.empty()) emit(std::exchange(partial_line_, {}));
      boost::system::error_code ignored;
      output_.close(ignored);
      break;
    }
    partial_line_.append(buf, static_cast<size_t>(n));
    size_t begin = 0;
    for (size_t nl; (nl = partial_line_.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      emit(std::string_view(partial_line_).substr(begin, nl - begin));
    }
    partial_line_.erase(0, begin);
    if (partial_line_.size() > kMaxLineBytes) emit(std::exchange(partial_line_, {}));
  }
}

void Environment::emit(std::string_view line) {
  if (config_.log) config_.log->write_line(line);
  if (active_) {
    std::string& tail = active_->tail;
    tail.append(line);
    tail.push_back('\n');
    if (tail.size() > 4 * kTailBytes) tail.erase(0, tail.size() - kTailBytes);
  }
  logger()->debug("function={} {}", config_.spec.name, line);
}

void Environment::wait_exit() {
  pidfd_.async_wait(asio::posix::descriptor_base::wait_read,
                    [self = shared_from_this()](const boost::system::error_code& e) {
                      if (e || self->ended_) return;
                      // Kill what the leader left in its group while its pid still pins the
                      // group id, then reap it.
                      ::kill(-self->pid_, SIGKILL);
                      int status = 0;
                      const pid_t r = ::waitpid(self->pid_, &status, WNOHANG);
                      if (r == 0) {
                        self->wait_exit();  // not yet: spurious wake-up
                        return;
                      }
                      self->on_exit(status);
                    });
}

void Environment::on_exit(int wait_status) {
  drain_output();
  if (active_) {
    const std::string id = active_->invocation.request_id;
    logger()->info("function={} env={} pid={} exited during invocation {}", config_.spec.name,
                   config_.id, pid_, id);
    finish(Kind::kFunctionError, exit_error_document(id, wait_status));
  } else {
    logger()->info("function={} env={} pid={} exited", config_.spec.name, config_.id, pid_);
  }
  pid_ = -1;
  end();
}

void Environment::end() {
  if (ended_) return;
  ended_ = true;
  retiring_ = true;
  if (server_) server_->stop();
  boost::system::error_code ignored;
  output_.close(ignored);
  pidfd_.close(ignored);
  deadline_timer_.cancel();
  init_timer_.cancel();
  idle_timer_.cancel();
  kill_timer_.cancel();
  std::error_code ec;
  if (!config_.scratch_dir.empty()) std::filesystem::remove_all(config_.scratch_dir, ec);
  if (config_.owner != nullptr) config_.owner->environment_ended(*this);
}

int64_t Environment::max_memory_used_mb() const {
  // Read on every invocation (the REPORT line): one open and one read of a ~1.5 KB file,
  // without a stream.
  if (pid_ <= 0) return 0;
  const std::string path = "/proc/" + std::to_string(pid_) + "/status";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  size_t size = 0;
  while (size < sizeof buf) {
    const ssize_t n = ::read(fd, buf + size, sizeof buf - size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  const std::string_view status(buf, size);
  const size_t key = status.find("\nVmHWM:");
  if (key == std::string_view::npos) return 0;
  size_t at = key + 7;
  while (at < size && (buf[at] == ' ' || buf[at] == '\t')) ++at;
  int64_t kb = 0;
  std::from_chars(buf + at, buf + size, kb);
  return (kb + 1023) / 1024;
}

}  // namespace sluice::runtime::internal
