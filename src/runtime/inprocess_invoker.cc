#include "runtime/inprocess_invoker.h"

#include "base/log.h"
#include "runtime/internal/log_lines.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <cxxabi.h>
#include <deque>
#include <dlfcn.h>
#include <fcntl.h>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <sluice/handler.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>
#include <vector>

namespace sluice::runtime {
using function::InvokeOutcome;
using Kind = function::InvokeOutcome::Kind;
using SteadyClock = std::chrono::steady_clock;

namespace internal {
namespace {

constexpr size_t kTailBytes = 4096;                 // X-Amz-Log-Type: Tail (spec 6.2)
constexpr size_t kMaxResponseBytes = 6'291'556;     // spec 4.1, as the Runtime API enforces it
constexpr size_t kMaxBufferedLogBytes = 64 * 1024;  // then lines go to the file at once
// A function runs on a caller's thread (Invocation::may_run_inline) after this many quick
// returns in a row, so one quick call is not enough to trust it with an event-loop thread.
constexpr int32_t kQuickStreakToInline = 16;
// The watcher's look when nothing is watched (see watch()).
constexpr auto kIdleWatch = std::chrono::milliseconds(250);

std::shared_ptr<spdlog::logger> logger() {
  static auto log = logging::get("runtime");
  return log;
}

InvokeOutcome make_outcome(Kind kind, std::string payload) {
  InvokeOutcome o;
  o.kind = kind;
  o.payload = std::move(payload);
  return o;
}

std::string error_document(std::string_view type, std::string_view message) {
  std::string out;
  out.reserve(type.size() + message.size() + 64);
  out += R"({"errorMessage":")";
  out += json_escape(message);
  out += R"(","errorType":")";
  out += json_escape(type);
  out += R"(","stackTrace":[]})";
  return out;
}

// The demangled type of the exception being handled, else "std::exception".
std::string current_exception_type_name() {
  if (const std::type_info* t = abi::__cxa_current_exception_type()) {
    int status = 0;
    char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
    std::string out = (status == 0 && name != nullptr) ? std::string(name) : std::string(t->name());
    std::free(name);
    return out;
  }
  return "std::exception";
}

// The peak resident set of this whole process, in MB: in-process handlers share it.
// RUSAGE_THREAD: Linux reports the process's high-water RSS for it too, without summing the
// CPU times of every server thread, which RUSAGE_SELF does on each call.
int64_t process_peak_rss_mb() {
  struct rusage usage {};
  if (::getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  return (usage.ru_maxrss + 1023) / 1024;  // ru_maxrss is in KB on Linux
}

// Splits Handler "<path>[:<symbol>]". The path must stay inside the task root.
Status parse_handler(std::string_view handler, std::string& path, std::string& symbol) {
  symbol = SLUICE_HANDLER_DEFAULT_SYMBOL;
  std::string_view p = handler;
  if (const size_t colon = handler.rfind(':'); colon != std::string_view::npos) {
    p = handler.substr(0, colon);
    symbol = std::string(handler.substr(colon + 1));
    if (symbol.empty())
      return Status::invalid_argument("empty symbol in handler " + std::string(handler));
  }
  if (p.empty()) return Status::invalid_argument("no library path in handler");
  const std::filesystem::path rel(p);
  if (rel.is_absolute()) return Status::invalid_argument("the library path must be relative");
  for (const auto& part : rel) {
    if (part == "..") return Status::invalid_argument("the library path must not contain ..");
  }
  path = rel.lexically_normal().string();
  return Status();
}

// An appending function log file, safe for concurrent writers: each write() call is one
// O_APPEND write of whole lines.
class LogSink {
 public:
  static std::shared_ptr<LogSink> open(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      logger()->error("function log {} cannot be opened: {}", path.string(), std::strerror(errno));
      return nullptr;
    }
    return std::make_shared<LogSink>(fd);
  }
  explicit LogSink(int fd) : fd_(fd) {}
  ~LogSink() { ::close(fd_); }
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  void write(std::string_view text) {
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!warned_.exchange(true)) {
          logger()->warn("function log write failed: {}", std::strerror(errno));
        }
        return;
      }
      done += static_cast<size_t>(n);
    }
  }

 private:
  const int fd_;
  std::atomic<bool> warned_{false};
};

}  // namespace

// One dlopen()ed library. Shared by the function's slot (while it is current) and by every
// invocation running in it, so dlclose() runs only after the last of them has returned.
struct Library {
  void* handle = nullptr;
  sluice_handler_v1_fn entry = nullptr;
  std::string copy_path;  // a hot-reload copy to remove after dlclose; empty otherwise
  std::shared_ptr<std::atomic<uint64_t>> unloads;

  Library() = default;
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() {
    if (handle != nullptr) {
      ::dlclose(handle);
      unloads->fetch_add(1);
    }
    if (!copy_path.empty()) ::unlink(copy_path.c_str());
  }
};

// Per function (by ARN); never erased, so pointers to it stay valid.
struct FunctionSlot {
  int32_t running = 0;  // GUARDED_BY(InProcessState::mu_): slots held, queued ones included
  // Handler returns in a row within InProcessInvokerOptions::inline_max (0 after a slower
  // one): how the invoker learns that the function may run on a caller's thread.
  std::atomic<int32_t> quick_streak{0};

  std::mutex load_mu;  // guards everything below; held while a library loads
  std::string revision;
  std::string hot_signature;  // hot reload: inode/size/mtime of the file `library` came from
  std::shared_ptr<Library> library;
  std::optional<double> init_ms;  // load time, reported with the next invocation

  std::mutex log_mu;  // guards `log`; never held while taking another lock
  std::shared_ptr<LogSink> log;
};

// One invocation from invoke() until its slot is released.
struct Call {
  function::Invocation inv;
  function::FunctionSpec spec;
  function::Invoker::Done done;
  FunctionSlot* slot = nullptr;
  SteadyClock::time_point deadline;
  std::atomic<bool> finished{false};  // whoever flips it first calls `done`
  bool watched = false;               // GUARDED_BY(InProcessState::watch_mu_)
  std::multimap<SteadyClock::time_point, std::shared_ptr<Call>>::iterator watch_pos;

  std::mutex log_mu;  // guards the members below
  std::string lines;  // this invocation's log lines, not yet written
  std::string tail;   // the last lines, for X-Amz-Log-Type: Tail
  std::shared_ptr<LogSink> log;
  bool started = false;
  SteadyClock::time_point started_at{};
  std::optional<double> init_ms;
};

// Everything the invoker owns. Shared by the invoker and each worker thread, so a worker left
// behind at shutdown (its handler never returned) never outlives what it uses.
class InProcessState : public std::enable_shared_from_this<InProcessState> {
 public:
  InProcessState(InProcessInvokerOptions options, FunctionLookup lookup)
      : options_(std::move(options)), lookup_(std::move(lookup)) {}

  const FunctionLookup& lookup() const { return lookup_; }

  void start_watcher() {
    watcher_ = std::thread([this] { watch(); });
  }

  void invoke(function::Invocation inv, FunctionTarget target, function::Invoker::Done done) {
    auto call = std::make_shared<Call>();
    const auto now_wall = std::chrono::system_clock::now();
    if (inv.deadline == std::chrono::system_clock::time_point{}) {
      inv.deadline = now_wall + std::chrono::seconds(target.spec.timeout_s);
    }
    call->deadline = SteadyClock::now() +
                     std::chrono::duration_cast<SteadyClock::duration>(inv.deadline - now_wall);
    call->inv = std::move(inv);
    call->spec = std::move(target.spec);
    call->done = std::move(done);
    std::string refused;
    bool run_here = false;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        refused = "Stopped";
      } else {
        auto& slot = slots_[call->spec.arn];
        if (!slot) slot = std::make_unique<FunctionSlot>();
        const int32_t limit =
            target.reserved_concurrency.value_or(options_.max_concurrency_per_function);
        if (slot->running >= std::max(0, limit)) {
          refused = target.reserved_concurrency
                        ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                        : "ConcurrentInvocationLimitExceeded";
        } else if (running_ >= options_.max_concurrency_total) {
          refused = "ConcurrentInvocationLimitExceeded";
        } else {
          ++slot->running;
          ++running_;
          call->slot = slot.get();
          watch_add(call);
          // Never a hot-reload function: any call may find its file rebuilt and copy and
          // dlopen it, which is no work for an event-loop thread.
          run_here = call->inv.may_run_inline && !call->spec.hot_reload &&
                     options_.inline_max.count() > 0 &&
                     slot->quick_streak.load(std::memory_order_relaxed) >= kQuickStreakToInline;
        }
        if (call->slot != nullptr && !run_here) {
          queue_.push_back(call);
          // Every held slot may need a thread of its own (a stuck handler keeps one), so a
          // thread starts whenever the queue outgrows the idle ones. Threads never outnumber
          // held slots, so the caps bound them.
          if (queue_.size() > static_cast<size_t>(idle_)) start_worker_locked();
        }
      }
    }
    if (!refused.empty()) {
      auto d = std::move(call->done);
      d(make_outcome(Kind::kUnavailable, std::move(refused)));
      return;
    }
    if (run_here) {
      // A function whose handlers have kept returning quickly, and a caller that allows
      // it: no hand-off to a worker and back. The watcher still reports a deadline.
      run(call);
      release(*call);
      return;
    }
    work_cv_.notify_one();
  }

  void retire(const std::string& arn) {
    FunctionSlot* slot = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = slots_.find(arn);
      if (it == slots_.end()) return;
      slot = it->second.get();
    }
    // The next revision loads on a worker, and must earn its quick streak again.
    slot->quick_streak.store(0, std::memory_order_relaxed);
    std::shared_ptr<Library> old;  // released outside load_mu
    std::lock_guard lock(slot->load_mu);
    old = std::move(slot->library);
    slot->revision.clear();
    slot->hot_signature.clear();
  }

  void shutdown() {
    std::deque<std::shared_ptr<Call>> queued;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      queued.swap(queue_);
    }
    work_cv_.notify_all();
    for (auto& call : queued) {
      watch_remove(*call);
      if (claim(*call)) {
        auto d = std::move(call->done);
        d(make_outcome(Kind::kUnavailable, "Stopped"));
      }
      release(*call);
    }
    // Handlers still running get stop_grace to return by themselves.
    const auto give_up = SteadyClock::now() + options_.stop_grace;
    {
      std::unique_lock lock(mu_);
      idle_cv_.wait_until(lock, give_up, [&] { return running_ == 0 && live_workers_ == 0; });
    }
    // What is still unfinished (running past the grace) ends the way a killed runtime does.
    std::vector<std::shared_ptr<Call>> left;
    {
      std::lock_guard lock(watch_mu_);
      watch_stop_ = true;
      for (auto& [when, call] : watches_) {
        call->watched = false;
        left.push_back(call);
      }
      watches_.clear();
    }
    watch_cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    for (auto& call : left) {
      if (claim(*call)) {
        complete(*call, Kind::kFunctionError, exit_error_document(call->inv.request_id, SIGTERM),
                 std::nullopt);
      }
    }
    // The Worker records stay in workers_: a thread left behind still writes to its own.
    std::vector<Worker*> workers;
    {
      std::lock_guard lock(mu_);
      for (auto& w : workers_) workers.push_back(&w);
    }
    for (Worker* w : workers) {
      bool exited = false;
      {
        std::lock_guard lock(mu_);
        exited = w->exited;
      }
      if (exited) {
        w->thread.join();
      } else {
        logger()->warn("an in-process handler is still running at shutdown; leaving its thread");
        w->thread.detach();
      }
    }
  }

  InProcessInvoker::Stats stats() const {
    InProcessInvoker::Stats s;
    s.loads = loads_.load();
    s.unloads = unloads_->load();
    s.threads = threads_started_.load();
    s.running = executing_.load();
    return s;
  }

 private:
  struct Worker {
    std::thread thread;
    bool exited = false;  // GUARDED_BY(mu_)
  };

  // REQUIRES: mu_ held.
  void start_worker_locked() {
    workers_.emplace_back();
    Worker* w = &workers_.back();
    ++idle_;  // idle until it takes work, so concurrent invokes do not start more than needed
    ++live_workers_;
    threads_started_.fetch_add(1);
    w->thread = std::thread([self = shared_from_this(), w] { self->work(w); });
  }

  // A worker thread: takes queued calls until shutdown.
  void work(Worker* me) {
    std::unique_lock lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping
      std::shared_ptr<Call> call = std::move(queue_.front());
      queue_.pop_front();
      --idle_;
      lock.unlock();
      if (!call->finished.load()) run(call);
      release(*call);
      call.reset();  // may dlclose an old library: never while a handler runs in it
      lock.lock();
      ++idle_;
    }
    --idle_;
    --live_workers_;
    me->exited = true;
    idle_cv_.notify_all();
  }

  // True for the one caller that gets to complete the call.
  static bool claim(Call& call) { return !call.finished.exchange(true); }

  void release(Call& call) {
    std::lock_guard lock(mu_);
    --call.slot->running;
    --running_;
    if (running_ == 0) idle_cv_.notify_all();
  }

  // Worker thread: load, call, complete.
  void run(const std::shared_ptr<Call>& call) {
    std::shared_ptr<Library> lib;
    std::string load_error;
    {
      FunctionSlot& slot = *call->slot;
      std::shared_ptr<LogSink> log = log_of(*call);
      std::lock_guard lock(slot.load_mu);
      Status loaded = current_library(*call, slot);
      if (loaded.ok()) {
        lib = slot.library;
        std::lock_guard log_lock(call->log_mu);
        call->init_ms = std::exchange(slot.init_ms, std::nullopt);
      } else {
        load_error = loaded.message();
      }
      std::lock_guard log_lock(call->log_mu);
      call->log = std::move(log);
      call->started = true;
      call->started_at = SteadyClock::now();
      append_line_locked(*call, start_line(call->inv.request_id));
    }
    if (!lib) {
      if (claim(*call)) {
        complete(*call, Kind::kFunctionError,
                 launch_failed_document(call->inv.request_id, load_error), std::nullopt);
      }
      return;
    }

    Reply reply;
    sluice_reply_v1 c_reply{&reply, &Reply::set_result, &Reply::set_error};
    const std::string_view name = call->spec.name;
    const std::string& arn =
        call->inv.function_arn.empty() ? call->spec.arn : call->inv.function_arn;
    sluice_invocation_v1 c_inv{};
    c_inv.abi_version = SLUICE_HANDLER_ABI_VERSION;
    c_inv.struct_size = sizeof(sluice_invocation_v1);
    c_inv.payload = {call->inv.payload.data(), call->inv.payload.size()};
    c_inv.request_id = {call->inv.request_id.data(), call->inv.request_id.size()};
    c_inv.function_arn = {arn.data(), arn.size()};
    c_inv.function_name = {name.data(), name.size()};
    c_inv.client_context = {call->inv.client_context.data(), call->inv.client_context.size()};
    c_inv.trace_id = {call->inv.trace_id.data(), call->inv.trace_id.size()};
    c_inv.tenant_id = {call->inv.tenant_id.data(), call->inv.tenant_id.size()};
    c_inv.deadline_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(call->inv.deadline.time_since_epoch())
            .count();
    c_inv.memory_mb = call->spec.memory_mb;
    c_inv.log = &log_from_handler;
    c_inv.host = call.get();

    if (call->finished.load()) return;  // timed out while its library loaded
    int rc = 0;
    executing_.fetch_add(1);
    const auto entered = SteadyClock::now();
    try {
      rc = lib->entry(&c_inv, &c_reply);
    } catch (const std::exception& e) {
      // Only a library that bypasses the C++ layer of handler.h can get here.
      rc = 1;
      reply.error_type = current_exception_type_name();
      reply.message = e.what();
      reply.has_error = true;
    } catch (...) {
      rc = 1;
      reply.error_type = current_exception_type_name();
      reply.message = "unknown exception";
      reply.has_error = true;
    }
    executing_.fetch_sub(1);
    if (SteadyClock::now() - entered <= options_.inline_max) {
      const int32_t streak = call->slot->quick_streak.load(std::memory_order_relaxed);
      if (streak < kQuickStreakToInline) {
        call->slot->quick_streak.store(streak + 1, std::memory_order_relaxed);
      }
    } else {
      call->slot->quick_streak.store(0, std::memory_order_relaxed);
    }

    if (!claim(*call)) {
      logger()->debug("function={} request={} returned after its timeout; result dropped", name,
                      call->inv.request_id);
      return;
    }
    if (rc != 0) {
      std::string doc = reply.has_error
                            ? error_document(reply.error_type, reply.message)
                            : error_document("Sluice.HandlerError",
                                             fmt::format("the handler returned {} without an "
                                                         "error",
                                                         rc));
      complete(*call, Kind::kFunctionError, std::move(doc), std::nullopt);
    } else if (reply.body.size() > kMaxResponseBytes) {
      complete(*call, Kind::kFunctionError, response_too_large_document(), std::nullopt);
    } else {
      complete(*call, Kind::kOk, reply.has_result ? std::move(reply.body) : std::string("null"),
               std::nullopt, std::move(reply.content_type));
    }
  }

  // REQUIRES: slot.load_mu held. Makes slot.library the library of call.spec's revision.
  Status current_library(const Call& call, FunctionSlot& slot) {
    const function::FunctionSpec& spec = call.spec;
    std::string rel, symbol;
    Status parsed = parse_handler(spec.handler, rel, symbol);
    if (!parsed.ok()) return parsed;
    const std::filesystem::path path = std::filesystem::path(spec.task_root) / rel;
    std::string signature;
    if (spec.hot_reload) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        return Status::not_found(
            fmt::format("cannot find {}: {}", path.string(), std::strerror(errno)));
      }
      signature =
          fmt::format("{}:{}:{}:{}", st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    if (slot.library && slot.revision == spec.revision_id && slot.hot_signature == signature) {
      return Status();
    }
    // A new revision (or a rebuilt hot-reload file): load it. The old library stays loaded
    // for the invocations still running in it, and is closed after the last one.
    const auto began = SteadyClock::now();
    auto lib = std::make_shared<Library>();
    lib->unloads = unloads_;
    std::string load_path = path.string();
    if (spec.hot_reload) {
      // dlopen() of a path already loaded returns the old mapping, and a rebuild in place
      // would change pages under running code: load a private copy instead.
      lib->copy_path =
          (options_.scratch_dir / fmt::format("lib-{}.so", copies_.fetch_add(1))).string();
      std::error_code ec;
      std::filesystem::copy_file(path, lib->copy_path,
                                 std::filesystem::copy_options::overwrite_existing, ec);
      if (ec) {
        const std::string why = ec.message();
        lib->copy_path.clear();
        return Status::io_error(fmt::format("cannot copy {}: {}", path.string(), why));
      }
      load_path = lib->copy_path;
    }
    lib->handle = ::dlopen(load_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib->handle == nullptr) {
      const char* why = ::dlerror();
      return Status::invalid_argument(
          fmt::format("cannot load {}: {}", rel, why != nullptr ? why : "dlopen failed"));
    }
    loads_.fetch_add(1);
    void* sym = ::dlsym(lib->handle, symbol.c_str());
    if (sym == nullptr) {
      return Status::invalid_argument(fmt::format("{} has no symbol {}", rel, symbol));
    }
    lib->entry = reinterpret_cast<sluice_handler_v1_fn>(sym);
    logger()->info("function={} revision={} loaded {} ({})", spec.name, spec.revision_id, rel,
                   symbol);
    slot.library = std::move(lib);  // the previous one is released by its last user
    slot.revision = spec.revision_id;
    slot.hot_signature = std::move(signature);
    slot.init_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - began).count();
    return Status();
  }

  // The result of one call, as the C setters leave it.
  struct Reply {
    bool has_result = false;
    bool has_error = false;
    std::string body, content_type, error_type, message;

    static void set_result(void* host, const char* body, size_t size, const char* ct,
                           size_t ct_size) {
      auto* r = static_cast<Reply*>(host);
      r->has_result = true;
      r->has_error = false;
      r->body.assign(body != nullptr ? body : "", body != nullptr ? size : 0);
      if (ct != nullptr && ct_size > 0) {
        r->content_type.assign(ct, ct_size);
      } else {
        r->content_type = "application/json";
      }
    }
    static void set_error(void* host, const char* type, size_t type_size, const char* message,
                          size_t message_size) {
      auto* r = static_cast<Reply*>(host);
      r->has_error = true;
      r->error_type.assign(type != nullptr ? type : "", type != nullptr ? type_size : 0);
      r->message.assign(message != nullptr ? message : "", message != nullptr ? message_size : 0);
    }
  };

  // sluice_invocation_v1::log. Before the call completes the line joins its buffer (written
  // with END and REPORT in one write); after a timeout it goes to the file directly.
  static void log_from_handler(void* host, const char* line, size_t size) {
    auto* call = static_cast<Call*>(host);
    const std::string_view text(line != nullptr ? line : "", line != nullptr ? size : 0);
    std::lock_guard lock(call->log_mu);
    if (call->finished.load()) {
      if (call->log) {
        std::string out(text);
        out.push_back('\n');
        call->log->write(out);
      }
      return;
    }
    append_line_locked(*call, text);
  }

  // REQUIRES: call.log_mu held.
  static void append_line_locked(Call& call, std::string_view line) {
    call.lines.append(line);
    call.lines.push_back('\n');
    call.tail.append(line);
    call.tail.push_back('\n');
    if (call.tail.size() > 4 * kTailBytes) call.tail.erase(0, call.tail.size() - kTailBytes);
    if (call.lines.size() > kMaxBufferedLogBytes && call.log) {
      call.log->write(call.lines);
      call.lines.clear();
    }
  }

  // The function's log file, opened on first use (nullptr when it cannot be).
  std::shared_ptr<LogSink> log_of(const Call& call) {
    FunctionSlot& slot = *call.slot;
    std::lock_guard lock(slot.log_mu);
    if (!slot.log) {
      const function::FunctionSpec& s = call.spec;
      slot.log = LogSink::open(options_.log_dir / s.region / s.account / (s.name + ".log"));
    }
    return slot.log;
  }

  // Writes the closing lines and calls `done`. REQUIRES: claim(call) returned true.
  void complete(Call& call, Kind kind, std::string payload, std::optional<std::string> engine_line,
                std::string content_type = {}) {
    watch_remove(call);
    std::shared_ptr<LogSink> log = log_of(call);  // before log_mu: lock order
    InvokeOutcome outcome = make_outcome(kind, std::move(payload));
    outcome.content_type = std::move(content_type);
    {
      std::lock_guard lock(call.log_mu);
      const auto now = SteadyClock::now();
      const std::string& id = call.inv.request_id;
      if (!call.started) {
        call.started = true;
        call.started_at = now;
        append_line_locked(call, start_line(id));
      }
      if (engine_line) append_line_locked(call, *engine_line);
      append_line_locked(call, end_line(id));
      ReportFields report;
      report.duration_ms = std::chrono::duration<double, std::milli>(now - call.started_at).count();
      report.memory_size_mb = call.spec.memory_mb;
      report.max_memory_used_mb = process_peak_rss_mb();
      report.init_duration_ms = call.init_ms;
      append_line_locked(call, report_line(id, report));
      if (!call.log) call.log = std::move(log);  // never started: timed out in the queue
      if (call.log) call.log->write(call.lines);
      call.lines.clear();
      const size_t keep = std::min(call.tail.size(), kTailBytes);
      outcome.log_tail = call.tail.substr(call.tail.size() - keep);
    }
    auto done = std::move(call.done);
    done(std::move(outcome));
  }

  // ---- deadlines ----

  void watch_add(const std::shared_ptr<Call>& call) {
    bool earlier = false;
    {
      std::lock_guard lock(watch_mu_);
      // The watcher wakes by itself by watch_target_; it needs a nudge only for a deadline
      // before that (not in a closed loop of calls with equal timeouts, where every new
      // deadline is later than the one the watcher already sleeps towards).
      earlier = call->deadline < watch_target_;
      call->watch_pos = watches_.emplace(call->deadline, call);
      call->watched = true;
    }
    if (earlier) watch_cv_.notify_one();
  }

  void watch_remove(Call& call) {
    std::lock_guard lock(watch_mu_);
    if (call.watched) {
      call.watched = false;
      watches_.erase(call.watch_pos);
    }
  }

  // The watcher thread: reports Sandbox.Timedout for calls that reach their deadline.
  void watch() {
    std::unique_lock lock(watch_mu_);
    while (!watch_stop_) {
      const auto now = SteadyClock::now();
      if (watches_.empty() || now < watches_.begin()->first) {
        // With nothing watched, look again after kIdleWatch. A deadline added later than
        // the target needs no wake-up (the watcher looks again by then); an earlier one
        // wakes it (watch_add), so no deadline is passed unnoticed.
        watch_target_ = watches_.empty() ? now + kIdleWatch : watches_.begin()->first;
        watch_cv_.wait_until(lock, watch_target_);
        continue;
      }
      std::shared_ptr<Call> call = watches_.begin()->second;
      watches_.erase(watches_.begin());
      call->watched = false;
      lock.unlock();
      if (claim(*call)) {
        const double timeout_s = call->spec.timeout_s;
        const std::string& id = call->inv.request_id;
        logger()->info(
            "function={} request={} timed out; the handler keeps its slot until it "
            "returns",
            call->spec.name, id);
        complete(*call, Kind::kTimedOut, timed_out_document(id, timeout_s),
                 timeout_line(std::chrono::system_clock::now(), id, timeout_s));
      }
      call.reset();
      lock.lock();
    }
  }

  const InProcessInvokerOptions options_;
  const FunctionLookup lookup_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // queue_ gained a call, or stopping_
  std::condition_variable idle_cv_;  // running_ reached 0, or a worker exited
  std::map<std::string, std::unique_ptr<FunctionSlot>> slots_;  // GUARDED_BY(mu_)
  std::deque<std::shared_ptr<Call>> queue_;                     // GUARDED_BY(mu_)
  std::list<Worker> workers_;                                   // GUARDED_BY(mu_)
  int32_t running_ = 0;                                         // GUARDED_BY(mu_)
  int32_t idle_ = 0;                                            // GUARDED_BY(mu_)
  int32_t live_workers_ = 0;                                    // GUARDED_BY(mu_)
  bool stopping_ = false;                                       // GUARDED_BY(mu_)

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  std::multimap<SteadyClock::time_point, std::shared_ptr<Call>> watches_;  // GUARDED_BY(watch_mu_)
  bool watch_stop_ = false;                                                // GUARDED_BY(watch_mu_)
  // When the watcher wakes by itself next; GUARDED_BY(watch_mu_)
  SteadyClock::time_point watch_target_ = SteadyClock::time_point::min();
  std::thread watcher_;

  std::atomic<uint64_t> loads_{0};
  std::shared_ptr<std::atomic<uint64_t>> unloads_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::atomic<uint64_t> threads_started_{0};
  std::atomic<uint64_t> executing_{0};
  std::atomic<uint64_t> copies_{0};
};

}  // namespace internal

Result<std::unique_ptr<InProcessInvoker>> InProcessInvoker::create(InProcessInvokerOptions options,
                                                                   FunctionLookup lookup) {
  if (options.log_dir.empty() || options.scratch_dir.empty()) {
    return Status::invalid_argument("log_dir and scratch_dir are required");
  }
  std::error_code ec;
  // Copies of a previous run are not loaded by anyone any more.
  std::filesystem::remove_all(options.scratch_dir, ec);
  std::filesystem::create_directories(options.scratch_dir, ec);
  if (ec) return Status::io_error("creating " + options.scratch_dir.string() + ": " + ec.message());
  std::filesystem::create_directories(options.log_dir, ec);
  if (ec) return Status::io_error("creating " + options.log_dir.string() + ": " + ec.message());
  auto state = std::make_shared<internal::InProcessState>(std::move(options), std::move(lookup));
  state->start_watcher();
  return std::unique_ptr<InProcessInvoker>(new InProcessInvoker(std::move(state)));
}

InProcessInvoker::InProcessInvoker(std::shared_ptr<internal::InProcessState> state)
    : state_(std::move(state)) {}

InProcessInvoker::~InProcessInvoker() { shutdown(); }

void InProcessInvoker::invoke(function::Invocation invocation, Done done) {
  auto target = state_->lookup()(invocation.function_arn);
  if (!target.ok()) {
    done(internal::make_outcome(Kind::kUnavailable, "ResourceNotFound"));
    return;
  }
  state_->invoke(std::move(invocation), std::move(*target), std::move(done));
}

void InProcessInvoker::invoke(function::Invocation invocation, FunctionTarget target, Done done) {
  state_->invoke(std::move(invocation), std::move(target), std::move(done));
}

void InProcessInvoker::retire(const std::string& function_arn) { state_->retire(function_arn); }

void InProcessInvoker::shutdown() { state_->shutdown(); }

InProcessInvoker::Stats InProcessInvoker::stats() const { return state_->stats(); }

}  // namespace sluice::runtime
