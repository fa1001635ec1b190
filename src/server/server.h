#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "kinesis/api.h"
#include "lambda/api.h"
#include "lambda/event_queue.h"
#include "lambda/registry.h"
#include "net/event_loop.h"
#include "net/router.h"
#include "net/server.h"
#include "runtime/dispatch_invoker.h"
#include "s3/api.h"
#include "s3/object_store.h"
#include "server/config.h"
#include "server/data_dir.h"
#include "server/destinations.h"
#include "server/test_clock.h"
#include "sqs/api.h"
#include "sqs/queue_service.h"
#include "storage/catalog.h"
#include "storage/log_store.h"
#include "stream/embedded_backend.h"
#include "stream/stream_service.h"

#include <boost/asio/signal_set.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::server {

// The composition root of `sluice serve`: owns the data dir, the event loop, the router and
// the HTTP server, and wires the layers together. Later layers register their routes on
// router() and their "sync and close" steps with on_shutdown() between open() and start().
//
// Lifecycle, all from one controlling thread (main), never from an event loop thread:
//   open() -> [router().add..., on_shutdown(...)] -> start() -> wait_for_stop() -> shutdown()
// request_stop() may be called from any thread. Destroying a started Server without
// shutdown() stops the loop without draining or running hooks.
class Server {
 public:
  // Validates nothing (the caller validated `config`); opens and locks the data dir and
  // registers the built-in routes, opens the catalog and recovers every log. Errors are
  // DataDir::open()'s and storage's (kCorruption naming file and byte for a damaged log).
  // `clock` must outlive us.
  static Result<std::unique_ptr<Server>> open(Config config, const Clock* clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // REQUIRES: before start().
  net::Router& router() { return router_; }
  // Adds a step to shutdown(); steps run in reverse order of registration, after the HTTP
  // server has drained and while the event loop still runs, on the controlling thread (so
  // they may block). A failed step is logged, the others still run. REQUIRES: before start().
  void on_shutdown(std::string name, std::function<Status()> hook);

  // Starts the event loop, handles SIGINT and SIGTERM from now on, and listens. Errors are
  // net::Server::start()'s. REQUIRES: called once.
  Status start();

  // After start(): "http://127.0.0.1:4566" with the bound port; IPv6 in brackets.
  std::string url() const;
  uint16_t port() const { return http_->port(); }
  const DataDir& data_dir() const { return *data_dir_; }
  storage::Catalog& catalog() { return *catalog_; }
  storage::LogStore& logs() { return *logs_; }
  stream::StreamService& streams() { return *streams_; }
  const Config& config() const { return config_; }

  // Blocks until SIGINT, SIGTERM or request_stop(). Returns the signal number, 0 for
  // request_stop(). A second signal while shutting down ends the process at once (exit 1).
  int wait_for_stop();
  void request_stop();

  // Stops accepting, lets in-flight requests finish (up to config().shutdown_grace), runs the
  // shutdown steps, stops the event loop. Returns the first failed step's Status.
  Status shutdown();

 private:
  struct Hook {
    std::string name;
    std::function<Status()> run;
  };

  Server(Config config, const Clock* clock, std::unique_ptr<DataDir> data_dir,
         std::unique_ptr<OffsetClock> test_clock);
  void arm_signals();
  // Opens the catalog and recovers every log of the data dir.
  Status open_storage();
  // Opens the StreamService over storage, registers the Kinesis API and starts maintenance.
  Status open_streams();
  // Opens the SQS-compatible queues and the S3-compatible buckets and registers their APIs.
  Status open_destinations();
  // Opens the FunctionRegistry (code under <data>/functions) and registers the Lambda API.
  Status open_functions();
  // Runs StreamService::run_maintenance() every few seconds until stop_maintenance().
  void maintenance_loop(std::stop_token stop);
  void stop_maintenance();

  // First, so that it outlives everything that reads clock_: set with --test-clock only.
  std::unique_ptr<OffsetClock> test_clock_;
  const Config config_;
  const Clock* const clock_;
  const std::chrono::steady_clock::time_point start_time_;
  // Declaration order is destruction order reversed: the loop ends before the router and
  // the data dir it serves; the data dir lock is released last.
  std::unique_ptr<DataDir> data_dir_;
  std::unique_ptr<storage::Catalog> catalog_;
  std::unique_ptr<storage::LogStore> logs_;
  // Streams over storage; destroyed before it (declared after it).
  std::unique_ptr<stream::EmbeddedShardLogBackend> shard_logs_;
  std::unique_ptr<stream::CatalogMetadataStore> stream_metadata_;
  std::unique_ptr<stream::StreamService> streams_;
  std::unique_ptr<kinesis::Api> kinesis_;
  std::unique_ptr<sqs::QueueService> queues_;
  std::unique_ptr<sqs::Api> sqs_api_;
  std::unique_ptr<s3::ObjectStore> objects_;
  std::unique_ptr<s3::Api> s3_api_;
  std::unique_ptr<ServiceDestinations> destinations_;    // over queues_ and objects_
  std::unique_ptr<lambda::FunctionRegistry> functions_;  // uses catalog_; declared after it
  std::unique_ptr<runtime::DispatchInvoker> invoker_;    // looks functions up in functions_
  // Event invocations; runs them through invoker_, so declared (and destroyed) after it.
  std::unique_ptr<lambda::EventQueue> event_queue_;
  // Event source mappings; invoke through invoker_ and read streams_, so declared after both.
  std::unique_ptr<esm::Engine> mappings_;
  std::unique_ptr<lambda::Api> lambda_;
  std::mutex maintenance_mu_;
  std::condition_variable_any maintenance_cv_;
  std::jthread maintenance_;  // runs maintenance_loop() from open() until the "streams" step
  net::Router router_;
  std::vector<Hook> hooks_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<net::Server> http_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  bool started_ = false;
  bool shut_down_ = false;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;  // GUARDED_BY(stop_mu_); a signal after it exits at once
  int stop_signal_ = 0;          // GUARDED_BY(stop_mu_)
};

}  // namespace sluice::server
