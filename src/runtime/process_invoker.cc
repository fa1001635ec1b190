#include "runtime/process_invoker.h"

#include "base/await.h"
#include "base/bytes.h"
#include "base/checksum.h"
#include "base/log.h"
#include "runtime/embedded_clients.h"
#include "runtime/internal/environment.h"
#include "runtime/internal/launch.h"
#include "runtime/internal/log_lines.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <future>
#include <iterator>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::runtime {
namespace asio = boost::asio;
using function::InvokeOutcome;
using Kind = function::InvokeOutcome::Kind;

namespace internal {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto log = logging::get("runtime");
  return log;
}

InvokeOutcome unavailable(std::string why) {
  InvokeOutcome o;
  o.kind = Kind::kUnavailable;
  o.payload = std::move(why);
  return o;
}

InvokeOutcome function_error(std::string document) {
  InvokeOutcome o;
  o.kind = Kind::kFunctionError;
  o.payload = std::move(document);
  return o;
}

// What a hot-reload function's code directory looks like now: a hash over the path, type,
// size, modification time and inode of every entry below it (symlinks followed to what a
// runtime would read), except Python's `__pycache__`. Any write, rename, creation or deletion
// changes it; an unchanged tree gives the same value. One stat per entry, so a directory of many
// thousands of files (a node_modules) costs milliseconds per invocation: hot reload is a
// development feature.
std::string code_stamp(const std::string& root) {
  namespace fs = std::filesystem;
  std::string listing;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return "unreadable";
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return "unreadable";
    // Python writes its bytecode cache beside the sources it imports (a hot-reload directory
    // is the user's, and writable): derived from the sources, so not a change of its own.
    if (it->path().filename() == "__pycache__") {
      it.disable_recursion_pending();
      continue;
    }
    const std::string& path = it->path().native();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && ::lstat(path.c_str(), &st) != 0) continue;
    fmt::format_to(std::back_inserter(listing), "{}\n{} {} {}.{} {}\n", path, st.st_mode,
                   st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ino);
  }
  return fmt::format("{:016x}", checksum(as_bytes(listing)));
}

}  // namespace

// Everything the invoker owns. All members except the atomics, the io_context, the strand
// and the thread are used only on the strand, so they need no lock: invoke(), retire() and
// shutdown() only post (or dispatch) to it.
class InvokerState final : public Environment::Owner {
 public:
  InvokerState(ProcessInvokerOptions options, FunctionLookup lookup)
      : options_(std::move(options)),
        lookup_(std::move(lookup)),
        own_ioc_(options_.io_context == nullptr ? std::make_unique<asio::io_context>(1) : nullptr),
        strand_(asio::make_strand(own_ioc_ ? *own_ioc_ : *options_.io_context)),
        rng_(std::random_device{}()) {
    if (own_ioc_) work_.emplace(asio::make_work_guard(*own_ioc_));
    settings_.clients_dir = options_.clients_dir.string();
    settings_.search_path = options_.search_path;
    settings_.interpreters = options_.interpreters;
    settings_.run_sh_bootstrap_with_bash = options_.run_sh_bootstrap_with_bash;
    endpoint_url_ = options_.endpoint_url;
  }

  void start_thread() {
    if (own_ioc_) thread_ = std::thread([this] { own_ioc_->run(); });
  }

  // Strand.
  void dispatch(function::Invocation inv, function::Invoker::Done done, FunctionTarget target) {
    if (closing_) return done(unavailable("Stopped"));
    function::FunctionSpec& spec = target.spec;
    // A hot-reload function's code is the directory as it is now (spec 2.9, docs/runtime.md):
    // a change since its environments started makes them stale like a new revision would.
    if (spec.hot_reload) spec.revision_id += "@" + code_stamp(spec.task_root);
    Pool& pool = pool_for(spec);
    if (pool.revision != spec.revision_id) {
      pool.revision = spec.revision_id;
      retire_stale(pool);
    }
    if (inv.deadline == std::chrono::system_clock::time_point{}) {
      inv.deadline = std::chrono::system_clock::now() + std::chrono::seconds(spec.timeout_s);
    }
    for (auto& env : pool.envs) {
      if (env->available() && env->revision() == pool.revision) {
        env->assign(std::move(inv), std::move(done));
        return;
      }
    }
    const int32_t limit =
        target.reserved_concurrency.value_or(options_.max_environments_per_function);
    if (busy_in(pool) >= static_cast<size_t>(std::max(0, limit))) {
      return done(unavailable(target.reserved_concurrency
                                  ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                                  : "ConcurrentInvocationLimitExceeded"));
    }
    size_t busy_total = 0;
    for (auto& [arn, p] : pools_) busy_total += busy_in(p);
    if (busy_total >= static_cast<size_t>(std::max(0, options_.max_environments_total))) {
      return done(unavailable("ConcurrentInvocationLimitExceeded"));
    }
    cold_start(pool, spec, std::move(inv), std::move(done));
  }

  void retire_function(const std::string& arn) {
    auto it = pools_.find(arn);
    if (it == pools_.end()) return;
    it->second.revision.clear();  // nothing matches: busy ones retire when they finish
    retire_stale(it->second);
  }

  // Strand. SIGTERM to all; `all_ended` is set once the last environment is reaped.
  void begin_shutdown(std::shared_ptr<std::promise<void>> all_ended) {
    closing_ = true;
    all_ended_ = std::move(all_ended);
    for (auto& env : all_environments()) env->retire();
    maybe_all_ended();
  }

  // Strand. After the grace period: SIGKILL and reap whatever is left.
  void finish_shutdown() {
    for (auto& env : all_environments()) env->kill_and_reap_now();
    pools_.clear();
    maybe_all_ended();
  }

  void invocation_finished(Environment& env) override {
    auto it = pools_.find(env.arn());
    if (closing_ || it == pools_.end() || it->second.revision != env.revision()) env.retire();
  }

  void environment_ended(Environment& env) override {
    environments_.fetch_sub(1);
    auto it = pools_.find(env.arn());
    if (it != pools_.end()) {
      auto& envs = it->second.envs;
      std::erase_if(envs, [&](const std::shared_ptr<Environment>& e) { return e.get() == &env; });
    }
    maybe_all_ended();
  }

  const InvokerStrand& strand() const { return *strand_; }
  // After shutdown: a strand refers to its io_context's strand service, which goes with the
  // context; the server destroys its loop before this invoker. REQUIRES: nothing posts to the
  // strand any more.
  void drop_strand() { strand_.reset(); }
  // Whether a caller on a thread of the io_context may run the strand's work itself.
  bool shares_callers_context() const { return own_ioc_ == nullptr; }
  std::chrono::milliseconds stop_grace() const { return options_.stop_grace; }
  const FunctionLookup& lookup() const { return lookup_; }
  void stop_thread() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  std::atomic<uint64_t> cold_starts_{0};
  std::atomic<uint64_t> environments_{0};

  // Strand only.
  void set_endpoint_url(std::string url) { endpoint_url_ = std::move(url); }

 private:
  struct Pool {
    std::string revision;
    std::vector<std::shared_ptr<Environment>> envs;
    std::shared_ptr<LogFile> log;
  };

  Pool& pool_for(const function::FunctionSpec& spec) {
    Pool& pool = pools_[spec.arn];
    if (!pool.log) {
      const auto path = options_.log_dir / spec.region / spec.account / (spec.name + ".log");
      auto log = LogFile::open(path.string());
      if (log.ok()) {
        pool.log = std::move(*log);
      } else {
        logger()->error("function={} no log file: {}", spec.name, log.status().to_string());
      }
    }
    return pool;
  }

  static size_t busy_in(const Pool& pool) {
    size_t n = 0;
    for (const auto& env : pool.envs) n += env->busy() ? 1 : 0;
    return n;
  }

  void retire_stale(Pool& pool) {
    for (auto& env : std::vector(pool.envs)) {
      if (env->revision() != pool.revision && env->available()) env->retire();
    }
  }

  std::vector<std::shared_ptr<Environment>> all_environments() const {
    std::vector<std::shared_ptr<Environment>> out;
    for (const auto& [arn, pool] : pools_)
      out.insert(out.end(), pool.envs.begin(), pool.envs.end());
    return out;
  }

  void maybe_all_ended() {
    if (all_ended_ == nullptr) return;
    for (const auto& [arn, pool] : pools_) {
      if (!pool.envs.empty()) return;
    }
    std::exchange(all_ended_, nullptr)->set_value();
  }

  void cold_start(Pool& pool, const function::FunctionSpec& spec, function::Invocation inv,
                  function::Invoker::Done done) {
    auto plan = plan_launch(spec, settings_);
    if (!plan.ok()) {
      if (plan.status().is_not_found()) {
        return done(function_error(invalid_entrypoint_document(inv.request_id, spec.task_root)));
      }
      logger()->warn("function={} cannot start: {}", spec.name, plan.status().to_string());
      return done(function_error(launch_failed_document(inv.request_id, plan.status().message())));
    }
    if (!plan->warning.empty()) logger()->warn("function={} {}", spec.name, plan->warning);
    Environment::Config config;
    config.id = next_env_id_++;
    config.spec = spec;
    config.plan = std::move(*plan);
    config.clients_dir = settings_.clients_dir;
    config.scratch_dir = (options_.scratch_dir / ("env-" + std::to_string(config.id))).string();
    config.endpoint_url = endpoint_url_;
    config.address_space_headroom_mb = options_.address_space_headroom_mb;
    config.init_timeout = options_.init_timeout;
    config.idle_lifetime = options_.idle_lifetime;
    config.stop_grace = options_.stop_grace;
    config.log = pool.log;
    config.owner = this;
    environments_.fetch_add(1);  // environment_ended() subtracts, also on a failed start
    auto env = Environment::start(*strand_, std::move(config), rng_);
    if (!env.ok()) {
      logger()->error("function={} cold start failed: {}", spec.name, env.status().to_string());
      return done(unavailable("ServiceException"));
    }
    cold_starts_.fetch_add(1);
    pool.envs.push_back(*env);
    (*env)->assign(std::move(inv), std::move(done));
  }

  const ProcessInvokerOptions options_;
  const FunctionLookup lookup_;
  std::string endpoint_url_;  // options_.endpoint_url until set_endpoint_url()
  LaunchSettings settings_;
  const std::unique_ptr<asio::io_context> own_ioc_;  // null with options_.io_context
  std::optional<InvokerStrand> strand_;              // reset by drop_strand()
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;  // runs own_ioc_
  std::mt19937_64 rng_;
  std::map<std::string, Pool> pools_;  // by function ARN
  uint64_t next_env_id_ = 1;
  bool closing_ = false;
  std::shared_ptr<std::promise<void>> all_ended_;
};

}  // namespace internal

Result<std::unique_ptr<ProcessInvoker>> ProcessInvoker::create(ProcessInvokerOptions options,
                                                               FunctionLookup lookup) {
  if (options.clients_dir.empty() || options.log_dir.empty() || options.scratch_dir.empty()) {
    return Status::invalid_argument("clients_dir, log_dir and scratch_dir are required");
  }
  Status s = install_runtime_clients(options.clients_dir);
  if (!s.ok()) return s;
  std::error_code ec;
  // Scratch directories of a previous run belong to processes that no longer exist.
  std::filesystem::remove_all(options.scratch_dir, ec);
  std::filesystem::create_directories(options.scratch_dir, ec);
  if (ec) return Status::io_error("creating " + options.scratch_dir.string() + ": " + ec.message());
  std::filesystem::create_directories(options.log_dir, ec);
  if (ec) return Status::io_error("creating " + options.log_dir.string() + ": " + ec.message());
  auto state = std::make_unique<internal::InvokerState>(std::move(options), std::move(lookup));
  state->start_thread();
  return std::unique_ptr<ProcessInvoker>(new ProcessInvoker(std::move(state)));
}

ProcessInvoker::ProcessInvoker(std::unique_ptr<internal::InvokerState> state)
    : state_(std::move(state)) {}

ProcessInvoker::~ProcessInvoker() { shutdown(); }

void ProcessInvoker::invoke(function::Invocation invocation, Done done) {
  auto target = state_->lookup()(invocation.function_arn);
  if (!target.ok()) {
    std::unique_lock lock(post_mu_);
    if (stopped_) {
      lock.unlock();
      done(internal::unavailable("Stopped"));
      return;
    }
    asio::post(state_->strand(),
               [done = std::move(done)] { done(internal::unavailable("ResourceNotFound")); });
    return;
  }
  invoke(std::move(invocation), std::move(*target), std::move(done));
}

void ProcessInvoker::invoke(function::Invocation invocation, FunctionTarget target, Done done) {
  std::unique_lock lock(post_mu_);
  if (stopped_) {
    lock.unlock();
    done(internal::unavailable("Stopped"));
    return;
  }
  const bool inline_allowed = invocation.may_run_inline && state_->shares_callers_context();
  auto run = [state = state_.get(), inv = std::move(invocation), done = std::move(done),
              target = std::move(target)]() mutable {
    state->dispatch(std::move(inv), std::move(done), std::move(target));
  };
  if (inline_allowed) {
    // On a thread of the shared io_context with the strand free, this runs here and now: the
    // event goes out to the runtime without waking another thread. There is no thread to
    // join at shutdown, so the lock need not cover it (shutdown() waits on the strand, which
    // runs this first or sees it after closing).
    lock.unlock();
    asio::dispatch(state_->strand(), std::move(run));
    return;
  }
  asio::post(state_->strand(), std::move(run));
}

void ProcessInvoker::set_endpoint_url(std::string url) {
  std::lock_guard lock(post_mu_);
  if (stopped_) return;
  asio::post(state_->strand(), [state = state_.get(), url = std::move(url)]() mutable {
    state->set_endpoint_url(std::move(url));
  });
}

void ProcessInvoker::retire(const std::string& function_arn) {
  std::lock_guard lock(post_mu_);
  if (stopped_) return;
  asio::post(state_->strand(),
             [state = state_.get(), function_arn] { state->retire_function(function_arn); });
}

namespace {

// Runs `f` on the strand and waits until it has returned.
template <typename F>
void run_on_strand_and_wait(const internal::InvokerStrand& strand, F f) {
  await_callback<bool>([&](auto finished) {
    asio::post(strand, [f = std::move(f), finished]() mutable {
      f();
      finished(true);
    });
  });
}

}  // namespace

void ProcessInvoker::shutdown() {
  {
    std::lock_guard lock(post_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  auto all_ended = std::make_shared<std::promise<void>>();
  auto ended = all_ended->get_future();
  asio::post(state_->strand(), [state = state_.get(), all_ended = std::move(all_ended)]() mutable {
    state->begin_shutdown(std::move(all_ended));
  });
  // Environments get SIGTERM, then SIGKILL from their own timers after stop_grace.
  if (ended.wait_for(state_->stop_grace() + std::chrono::seconds(2)) != std::future_status::ready) {
    run_on_strand_and_wait(state_->strand(), [state = state_.get()] { state->finish_shutdown(); });
  }
  // The end is reported from inside a handler on the strand, which may still be running on a
  // thread of a shared io_context: once it has returned, nothing of ours runs there any more.
  run_on_strand_and_wait(state_->strand(), [] {});
  state_->stop_thread();
  state_->drop_strand();
}

ProcessInvoker::Stats ProcessInvoker::stats() const {
  return Stats{state_->cold_starts_.load(), state_->environments_.load()};
}

}  // namespace sluice::runtime
