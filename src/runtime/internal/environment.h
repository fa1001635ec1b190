#pragma once

#include "base/result.h"
#include "function/function.h"
#include "function/invoker.h"
#include "runtime/internal/launch.h"
#include "runtime/internal/runtime_api_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <sys/types.h>

namespace sluice::runtime::internal {

// A function's log file (spec 6.2), opened for appending; shared by the function's
// environments. Used only on the invoker's strand. Write failures are logged once and dropped:
// a full disk must not fail invocations.
class LogFile {
 public:
  // Creates parent directories. kIOError when the file cannot be opened.
  static Result<std::shared_ptr<LogFile>> open(const std::string& path);
  explicit LogFile(int fd) : fd_(fd) {}
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  void write_line(std::string_view line);  // appends line + '\n' in one write

 private:
  int fd_;
  bool warned_ = false;
};

// One execution environment (spec 5.1): a runtime process in its own process group, the pipe
// carrying its stdout+stderr, its Runtime API server, its scratch directory, and at most one
// invocation. Created by the invoker on a cold start; ends when its process has exited and
// been reaped, after which it tells its owner and releases everything.
//
// Used only on the invoker's strand. Held by shared_ptr: the owner's pool and
// each pending asynchronous operation keep it alive.
class Environment : public std::enable_shared_from_this<Environment>,
                    private RuntimeApiServer::Delegate {
 public:
  // Told about state changes. Must outlive every environment it owns.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void invocation_finished(Environment& env) = 0;  // done() was called
    virtual void environment_ended(Environment& env) = 0;    // reaped; drop it
  };

  struct Config {
    uint64_t id = 0;
    function::FunctionSpec spec;
    LaunchPlan plan;
    std::string clients_dir;
    std::string scratch_dir;  // this environment's own; created here, removed at the end
    std::string endpoint_url;
    int32_t address_space_headroom_mb = 0;  // 0: no RLIMIT_AS
    std::chrono::milliseconds init_timeout{10000};
    std::chrono::milliseconds idle_lifetime{600000};
    std::chrono::milliseconds stop_grace{2000};
    std::shared_ptr<LogFile> log;
    Owner* owner = nullptr;
  };

  // Starts the process. kIOError when the pipe, the listener, the scratch directory or
  // posix_spawn fail (nothing is left running then).
  static Result<std::shared_ptr<Environment>> start(const InvokerStrand& strand, Config config,
                                                    std::mt19937_64& rng);
  Environment(const InvokerStrand& strand, Config config);
  ~Environment() override;

  // Hands an invocation to this environment. `done` is called exactly once, by the deadline.
  // REQUIRES: available().
  void assign(function::Invocation invocation, function::Invoker::Done done);

  bool available() const { return !ended_ && !retiring_ && !active_; }
  bool busy() const { return active_.has_value(); }
  bool ended() const { return ended_; }
  const std::string& arn() const { return config_.spec.arn; }
  const std::string& revision() const { return config_.spec.revision_id; }
  const std::string& log_stream_name() const { return log_stream_; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return server_ ? server_->port() : 0; }

  // SIGTERM now, SIGKILL after stop_grace; ends when reaped. A running invocation ends with
  // Runtime.ExitError. Idempotent.
  void retire();
  // SIGKILL to the process group and a blocking waitpid, then ends. For shutdown.
  void kill_and_reap_now();

 private:
  struct Active {
    function::Invocation invocation;
    function::Invoker::Done done;
    std::string tail;      // log lines since assign(), trimmed to the last bytes
    bool started = false;  // START written
    std::chrono::steady_clock::time_point started_at{};
  };

  // RuntimeApiServer::Delegate.
  void on_ready() override;
  void on_dispatched(const std::string& request_id) override;
  void on_response(const std::string& request_id, std::string body,
                   std::string content_type) override;
  void on_error(const std::string& request_id, std::string body) override;
  void on_init_error(std::string body) override;
  void on_response_too_large(const std::string& request_id) override;

  void offer_current();
  void finish(function::InvokeOutcome::Kind kind, std::string payload,
              std::optional<std::string> engine_line = std::nullopt, std::string content_type = {});
  void timed_out();
  void kill_group(int signo);
  void wait_output();
  void drain_output();
  void emit(std::string_view line);
  void wait_exit();
  void on_exit(int wait_status);
  void end();
  void arm_idle_timer();
  int64_t max_memory_used_mb() const;

  Config config_;
  std::string log_stream_;
  std::string runtime_api_;
  std::shared_ptr<RuntimeApiServer> server_;
  pid_t pid_ = -1;
  boost::asio::posix::stream_descriptor output_;  // read end of the stdout+stderr pipe
  boost::asio::posix::stream_descriptor pidfd_;   // readable once the process has exited
  std::string partial_line_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer init_timer_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer kill_timer_;
  uint64_t idle_generation_ = 0;
  std::optional<Active> active_;
  bool ready_ = false;  // the runtime called /next once
  bool retiring_ = false;
  bool ended_ = false;
  std::chrono::steady_clock::time_point spawned_at_{};
  std::optional<double> init_duration_ms_;  // reported once, with the first invocation
  std::mt19937_64 trace_rng_;
};

}  // namespace sluice::runtime::internal
