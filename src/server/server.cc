#include "server/server.h"

#include "base/check.h"
#include "base/log.h"
#include "net/aws_request.h"
#include "server/health.h"
#include "server/version.h"

#include <fmt/format.h>

#include <charconv>
#include <csignal>
#include <cstdlib>

namespace sluice::server {

namespace {
std::shared_ptr<spdlog::logger> logger() { return logging::get("server"); }

std::string_view signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

// arn:aws:lambda:<region>:<account>:function:<name>, unqualified; nullopt for anything else.
std::optional<lambda::FunctionKey> function_key_of(const std::string& arn) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t colon; (colon = arn.find(':', from)) != std::string::npos;) {
    parts.push_back(arn.substr(from, colon - from));
    from = colon + 1;
  }
  parts.push_back(arn.substr(from));
  if (parts.size() != 7 || parts[5] != "function") return std::nullopt;
  return lambda::FunctionKey{parts[4], parts[3], parts[6]};
}
}  // namespace

Result<std::unique_ptr<Server>> Server::open(Config config, const Clock* clock) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<DataDir> dir, DataDir::open(config.data_dir));
  std::unique_ptr<OffsetClock> test_clock;
  if (config.test_clock) {
    test_clock = std::make_unique<OffsetClock>(clock);
    clock = test_clock.get();
  }
  std::unique_ptr<Server> server(
      new Server(std::move(config), clock, std::move(dir), std::move(test_clock)));
  SLUICE_RETURN_IF_ERROR(server->open_storage());
  SLUICE_RETURN_IF_ERROR(server->open_streams());
  SLUICE_RETURN_IF_ERROR(server->open_destinations());
  SLUICE_RETURN_IF_ERROR(server->open_functions());
  return server;
}

Status Server::open_storage() {
  SLUICE_ASSIGN_OR_RETURN(catalog_, storage::Catalog::open(data_dir_->file("catalog.db")));
  // Every log is recovered here, before anything listens: damage stops the start.
  SLUICE_ASSIGN_OR_RETURN(
      logs_,
      storage::LogStore::open(FileSystem::posix(), data_dir_->file("logs"), config_.log, clock_));
  // Registered first, so it runs last: after every layer above has stopped appending.
  on_shutdown("storage", [this] { return logs_->close_all(); });
  return Status();
}

Status Server::open_streams() {
  shard_logs_ = std::make_unique<stream::EmbeddedShardLogBackend>(logs_.get());
  stream_metadata_ = std::make_unique<stream::CatalogMetadataStore>(catalog_.get());
  SLUICE_ASSIGN_OR_RETURN(
      streams_, stream::StreamService::open(shard_logs_.get(), stream_metadata_.get(), clock_,
                                            config_.streams));
  kinesis_ = std::make_unique<kinesis::Api>(
      streams_.get(), kinesis::ApiOptions{.default_account = config_.default_account,
                                          .default_region = config_.default_region});
  router_.add_target_prefix(
      "Kinesis_20131202.",
      net::AsyncHandler([api = kinesis_.get()](const net::Request& r, net::Responder responder) {
        api->handle_async(r, std::move(responder));
      }));
  maintenance_ = std::jthread([this](std::stop_token stop) { maintenance_loop(std::move(stop)); });
  // Registered after "storage", so it runs before it: maintenance and writes stop before
  // the logs close, and every write's answer is handed to its connection while the loop
  // still runs. The service itself lives until ~Server, after the event loop has stopped: a
  // handler still running past the drain deadline meets closed logs or stopped writes (an
  // error for its client), never a destroyed service.
  on_shutdown("streams", [this] {
    stop_maintenance();
    streams_->stop_writes();
    return Status();
  });
  return Status();
}

Status Server::open_destinations() {
  SLUICE_ASSIGN_OR_RETURN(
      queues_,
      sqs::QueueService::open(data_dir_->file("sqs.db"), clock_,
                              sqs::QueueServiceOptions{.default_account = config_.default_account,
                                                       .default_region = config_.default_region}));
  sqs_api_ = std::make_unique<sqs::Api>(queues_.get());
  router_.add_target_prefix(
      "AmazonSQS.", [api = sqs_api_.get()](const net::Request& r) { return api->handle(r); });
  SLUICE_ASSIGN_OR_RETURN(objects_, s3::ObjectStore::open(data_dir_->file("s3"), clock_));
  s3_api_ = std::make_unique<s3::Api>(objects_.get(),
                                      s3::ApiOptions{.default_account = config_.default_account,
                                                     .default_region = config_.default_region});
  router_.add_signing_service(
      "s3", [api = s3_api_.get()](const net::Request& r) { return api->handle(r); });
  destinations_ = std::make_unique<ServiceDestinations>(queues_.get(), objects_.get());
  return Status();
}

Status Server::open_functions() {
  SLUICE_ASSIGN_OR_RETURN(
      functions_,
      lambda::FunctionRegistry::open(
          catalog_.get(), data_dir_->file("functions"),
          lambda::RegistryOptions{.zip = {}, .allow_hot_reload = config_.lambda_hot_reload},
          clock_));
  // Functions run as child processes; their runtime clients, logs and scratch space live
  // under <data>/runtime (docs/runtime.md).
  runtime::ProcessInvokerOptions invoker_options;
  invoker_options.clients_dir = data_dir_->file("runtime/clients");
  invoker_options.log_dir = data_dir_->file("runtime/logs");
  invoker_options.scratch_dir = data_dir_->file("runtime/scratch");
  if (const char* path = std::getenv("PATH"); path != nullptr && *path != '\0') {
    invoker_options.search_path = path;
  }
  // Environments run on the event loop: a warm Invoke reaches its runtime and comes back on
  // the loop's threads, with no hand-off to a thread of the invoker's (docs/runtime.md).
  invoker_options.io_context = &loop_->context();
  const runtime::FunctionLookup lookup =
      [registry = functions_.get()](const std::string& arn) -> Result<runtime::FunctionTarget> {
    const std::optional<lambda::FunctionKey> key = function_key_of(arn);
    if (!key) return Status::not_found("not a function ARN: " + arn);
    SLUICE_ASSIGN_OR_RETURN(lambda::FunctionRecord record, registry->get(*key));
    SLUICE_ASSIGN_OR_RETURN(function::FunctionSpec spec, registry->spec(*key));
    runtime::FunctionTarget target{std::move(spec), std::nullopt};
    if (record.reserved_concurrency) {
      target.reserved_concurrency = static_cast<int32_t>(*record.reserved_concurrency);
    }
    return target;
  };
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<runtime::ProcessInvoker> process,
                          runtime::ProcessInvoker::create(std::move(invoker_options), lookup));
  // In-process C++ handlers ("sluice.cpp") log next to the processes; "sluice.remote"
  // functions are forwarded over HTTP; the dispatcher picks per function (docs/runtime.md).
  runtime::InProcessInvokerOptions in_process_options;
  in_process_options.log_dir = data_dir_->file("runtime/logs");
  in_process_options.scratch_dir = data_dir_->file("runtime/inprocess");
  in_process_options.inline_max = std::chrono::microseconds(config_.inprocess_inline_us);
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<runtime::InProcessInvoker> in_process,
                          runtime::InProcessInvoker::create(std::move(in_process_options), lookup));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<runtime::RemoteInvoker> remote,
                          runtime::RemoteInvoker::create(runtime::RemoteInvokerOptions{}, lookup));
  invoker_ = std::make_unique<runtime::DispatchInvoker>(lookup, std::move(process),
                                                        std::move(in_process), std::move(remote));
  // Registered after "streams", so it runs before: child processes end first.
  on_shutdown("functions", [this] {
    invoker_->shutdown();
    return Status();
  });
  // Asynchronous invocations (docs/async-invoke.md), queued in the catalog and run through
  // the invoker. Registered after "functions", so its step runs before: running attempts
  // may still finish, and whatever is left runs again after the next start.
  auto timeout_of = [registry = functions_.get()](const std::string& arn) -> Result<int32_t> {
    const std::optional<lambda::FunctionKey> key = function_key_of(arn);
    if (!key) return Status::not_found("not a function ARN: " + arn);
    SLUICE_ASSIGN_OR_RETURN(function::FunctionSpec spec, registry->spec(*key));
    return spec.timeout_s;
  };
  SLUICE_ASSIGN_OR_RETURN(
      event_queue_, lambda::EventQueue::open(catalog_.get(), invoker_.get(), timeout_of, clock_,
                                             config_.async_events));
  event_queue_->start();
  on_shutdown("async-invocations", [this] {
    event_queue_->shutdown();
    return Status();
  });
  // Event source mappings (docs/esm.md): read shards through streams_, invoke through
  // invoker_. Registered after "async-invocations", so it stops first: batches in flight
  // finish and checkpoint while the invoker still runs.
  auto function_info = [registry =
                            functions_.get()](const std::string& arn) -> Result<esm::FunctionInfo> {
    const std::optional<lambda::FunctionKey> key = function_key_of(arn);
    if (!key) return Status::not_found("not a function ARN: " + arn);
    SLUICE_ASSIGN_OR_RETURN(lambda::FunctionRecord record, registry->get(*key));
    return esm::FunctionInfo{record.role, record.spec.timeout_s};
  };
  SLUICE_ASSIGN_OR_RETURN(
      mappings_, esm::Engine::open(streams_.get(), stream_metadata_.get(), invoker_.get(),
                                   function_info, clock_, config_.esm, destinations_.get()));
  mappings_->start();
  on_shutdown("event-source-mappings", [this] {
    mappings_->shutdown();
    return Status();
  });
  router_.add("GET", "/metrics", [engine = mappings_.get()](const net::Request&) {
    net::Response r = net::Response::text(200, engine->metrics_text());
    r.content_type = "text/plain; version=0.0.4";
    return r;
  });
  lambda_ = std::make_unique<lambda::Api>(
      functions_.get(), clock_,
      lambda::ApiOptions{.default_account = config_.default_account,
                         .default_region = config_.default_region,
                         .max_event_payload_bytes = config_.async_max_payload_bytes},
      invoker_.get(), event_queue_.get(), mappings_.get());
  // Lambda is REST: routed by path prefix (spec 1.1), before Kinesis's POST / rules.
  for (std::string_view prefix : lambda::Api::path_prefixes()) {
    router_.add_path_prefix(
        prefix,
        net::AsyncHandler([api = lambda_.get()](const net::Request& r, net::Responder responder) {
          api->handle_async(r, std::move(responder));
        }));
  }
  router_.add_path_prefix(lambda::Api::kCodePrefix, [api = lambda_.get()](const net::Request& r) {
    return api->handle_code_download(r);
  });
  return Status();
}

void Server::maintenance_loop(std::stop_token stop) {
  constexpr auto kInterval = std::chrono::seconds(5);
  std::unique_lock lock(maintenance_mu_);
  while (!maintenance_cv_.wait_for(lock, stop, kInterval, [] { return false; })) {
    if (stop.stop_requested()) return;
    lock.unlock();
    Status s = streams_->run_maintenance();
    if (!s.ok()) logger()->warn("stream maintenance failed: {}", s.to_string());
    lock.lock();
  }
}

void Server::stop_maintenance() {
  if (maintenance_.joinable()) {
    maintenance_.request_stop();
    maintenance_.join();
  }
}

Server::Server(Config config, const Clock* clock, std::unique_ptr<DataDir> data_dir,
               std::unique_ptr<OffsetClock> test_clock)
    : test_clock_(std::move(test_clock)),
      config_(std::move(config)),
      clock_(clock),
      start_time_(clock->steady_now()),
      data_dir_(std::move(data_dir)),
      loop_(std::make_unique<net::EventLoop>(config_.io_threads)) {
  router_.add("GET", "/_sluice/health",
              make_health_handler(
                  HealthInfo{std::string(version()), data_dir_->path(), clock_, start_time_}));
  if (test_clock_) {
    // Tests of record ages move the wall clock instead of waiting (docs/esm.md, "Testing record
    // ages").
    router_.add("POST", "/_sluice/test/clock", [clock = test_clock_.get()](const net::Request& r) {
      const std::optional<std::string_view> raw = net::query_param(r.query, "advance_ms");
      int64_t ms = -1;
      if (raw) {
        const auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), ms);
        if (ec != std::errc() || end != raw->data() + raw->size()) ms = -1;
      }
      if (ms < 0) {
        return net::Response::json_error(400, "ValidationException",
                                         "advance_ms must be a non-negative integer");
      }
      return net::Response::json(200, fmt::format(R"({{"offset_ms":{}}})", clock->advance(ms)));
    });
  }
  http_ = std::make_unique<net::Server>(loop_.get(), &router_, config_.http);
}

Server::~Server() {
  // Without shutdown(): no draining, no hooks; only make sure nothing runs past our members.
  stop_maintenance();
  http_.reset();  // closes connections while the loop still runs
  // Invoke answers are posted to the loop from the invoker's callbacks: none may come after
  // the loop is gone. The process invoker's environments run on the loop, so it must run
  // while they stop, also when start() was never reached.
  if (invoker_) {
    if (!started_) loop_->start();
    invoker_->shutdown();
  }
  // Likewise the answers of writes, from the shard writers' threads.
  if (streams_) streams_->stop_writes();
  loop_->stop();
  loop_->join();
  signals_.reset();  // before the io_context it belongs to
  loop_.reset();
}

void Server::on_shutdown(std::string name, std::function<Status()> hook) {
  SLUICE_CHECK(!started_, "on_shutdown() after start()");
  hooks_.push_back({std::move(name), std::move(hook)});
}

Status Server::start() {
  SLUICE_CHECK(!started_, "Server::start() called twice");
  started_ = true;
  // A client that disconnects must not kill us with SIGPIPE (Asio sends with MSG_NOSIGNAL,
  // but child processes and pipes will not).
  std::signal(SIGPIPE, SIG_IGN);
  // Before the loop runs and before we listen: from here on SIGTERM means "drain and exit 0".
  signals_ = std::make_unique<boost::asio::signal_set>(loop_->context(), SIGINT, SIGTERM);
  arm_signals();
  loop_->start();
  Status listening = http_->start();
  if (!listening.ok()) return listening;
  // Handlers' SDK calls come back here (spec 5.2 AWS_ENDPOINT_URL); the port is known now.
  invoker_->process().set_endpoint_url(url());
  logger()->info("listening on {} data_dir={} fsync={} repair={} logs={} kinesis=on", url(),
                 data_dir_->path(), storage::fsync_policy_name(config_.log.fsync),
                 config_.log.repair, logs_->log_names().size());
  return Status();
}

void Server::arm_signals() {
  signals_->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;  // cancelled: shutting down
    bool second = false;
    {
      std::lock_guard lock(stop_mu_);
      second = stop_requested_;
      if (!second) {
        stop_requested_ = true;
        stop_signal_ = sig;
      }
    }
    if (second) {
      logger()->warn("{} again while stopping; exiting now without draining", signal_name(sig));
      logger()->flush();
      std::_Exit(1);
    }
    logger()->info("{} received; stopping", signal_name(sig));
    stop_cv_.notify_all();
    arm_signals();
  });
}

std::string Server::url() const {
  const std::string address = http_->local_address();
  if (address.find(':') != std::string::npos) {
    return fmt::format("http://[{}]:{}", address, http_->port());
  }
  return fmt::format("http://{}:{}", address, http_->port());
}

int Server::wait_for_stop() {
  std::unique_lock lock(stop_mu_);
  stop_cv_.wait(lock, [this] { return stop_requested_; });
  return stop_signal_;
}

void Server::request_stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_requested_ = true;
  }
  stop_cv_.notify_all();
}

Status Server::shutdown() {
  SLUICE_CHECK(started_ && !shut_down_, "shutdown() before start() or twice");
  shut_down_ = true;
  // Long polls answer now with what they have, instead of holding the drain for up to 20 s;
  // sends (failure notices of mappings still stopping) keep working.
  queues_->shutdown();
  const net::ShutdownStats stats = http_->shutdown(config_.shutdown_grace);
  logger()->info("http drained: {} connection(s) finished, {} closed at the deadline",
                 stats.finished, stats.forced);

  Status first_failure;
  for (auto it = hooks_.rbegin(); it != hooks_.rend(); ++it) {
    Status s = it->run();
    if (!s.ok()) {
      logger()->error("shutdown step '{}' failed: {}", it->name, s.to_string());
      if (first_failure.ok()) first_failure = s.with_context("shutdown step " + it->name);
    }
  }

  // The signal set may only be touched off the loop once no thread runs it (its handler
  // re-arms it on a loop thread). Destroying it restores the default signal actions.
  loop_->stop();
  loop_->join();
  signals_.reset();
  logger()->info("stopped");
  return first_failure;
}

}  // namespace sluice::server
