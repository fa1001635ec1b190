#pragma once

#include "base/result.h"
#include "base/status.h"
#include "esm/engine.h"
#include "lambda/event_queue.h"
#include "net/server.h"
#include "storage/log.h"
#include "stream/operations.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::server {

// Everything `sluice serve` is configured with: one plain tree with defaults in code,
// filled from flags by the CLI and checked once by validate() before anything starts.
struct Config {
  net::ServerOptions http;  // host, port and request limits
  size_t io_threads = 2;    // threads running the one io_context
  std::string data_dir = "./data";
  storage::LogOptions log;  // fsync policy, segment sizes, repair
  // Stream-level behaviour: transition delays (--transition-delay-ms) and throughput limits
  // (--enforce-limits).
  stream::StreamServiceOptions streams;
  // Who a request without SigV4 credentials (or with a non-numeric access key) acts as.
  std::string default_account = "000000000000";
  std::string default_region = "us-east-1";
  // Lambda Code.S3Bucket "hot-reload" runs code from a local directory (non-AWS behaviour).
  bool lambda_hot_reload = false;
  // In-process handlers that keep returning within this run on the Invoke request's own
  // event-loop thread (--inprocess-inline-us; 0: always on a worker; docs/runtime.md).
  int64_t inprocess_inline_us = 1000;
  // Asynchronous invokes (Event, InvokeAsync; docs/async-invoke.md): retries and their
  // delays, maximum event age (--async-* flags), and the largest payload accepted.
  lambda::EventQueueOptions async_events;
  size_t async_max_payload_bytes = 262'144;
  // Event source mappings (docs/esm.md): retry back-off, idle polling, transition delay
  // (--esm-* flags).
  esm::EngineOptions esm;
  // --test-clock: the wall clock can be moved forward over HTTP (server/test_clock.h), for
  // tests of record ages. Never for real use.
  bool test_clock = false;
  std::string log_level = "info";
  // How long SIGTERM waits for in-flight requests before closing their connections.
  std::chrono::milliseconds shutdown_grace{10'000};
};

// ok, or kInvalidArgument naming the first bad field, e.g. "--log-level: unknown level 'x'".
Status validate(const Config& config);

}  // namespace sluice::server
