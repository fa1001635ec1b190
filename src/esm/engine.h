#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "esm/destinations.h"
#include "esm/mapping.h"
#include "function/invoker.h"
#include "stream/backend.h"
#include "stream/stream_service.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::esm {

// How the engine behaves where AWS leaves a choice (docs/esm.md). server/ fills these from
// --esm-* flags.
struct EngineOptions {
  int32_t threads = 2;  // reader threads shared by every mapping
  // A caught-up reader reads again at least this often even without a put (it is woken at
  // once by puts): finds closed shards' children and trimmed records.
  int64_t idle_poll_ms = 1'000;
  // Creating -> Enabled, Updating -> Enabled, Deleting -> gone, ... take this long.
  int64_t transition_delay_ms = 100;
  // Back-off after a failed attempt (doubling up to the maximum) and after an invocation
  // error (throttled, function missing).
  int64_t retry_base_ms = 1'000;
  int64_t retry_max_ms = 8'000;
  int64_t throttle_wait_ms = 1'000;
  // A mapping whose stream has been gone this long is disabled by the engine.
  int64_t stream_gone_disable_ms = 10'000;
  // A failure notice that could not be stored is tried again after this long (doubling up
  // to retry_max_ms); its records wait meanwhile.
  int64_t destination_retry_ms = 1'000;
  // shutdown() waits this long for the batches in flight to finish and checkpoint; a batch
  // still running then is read again after a restart.
  int64_t shutdown_wait_ms = 10'000;
};

// What the engine needs to know of a function besides invoking it.
struct FunctionInfo {
  std::string role;       // the execution role ARN: invokeIdentityArn
  int32_t timeout_s = 3;  // the invocation deadline
};
// Looks a function up by its unqualified ARN; kNotFound when there is none.
using FunctionResolver = std::function<Result<FunctionInfo>(const std::string& function_arn)>;

// Lambda's Kinesis poller (spec lambda-esm-kinesis.md, docs/esm.md): the mappings, their
// state machine, and one reader per shard (per lane) that reads through the StreamService,
// batches, invokes through the function::Invoker and checkpoints per shard.
//
// Mappings and checkpoints live in the MetadataStore (namespaces "esm.mapping" and
// "esm.checkpoint", docs/formats/esm-catalog.md), so they survive a restart and a second
// backend can keep them elsewhere.
//
// Records that policy discards go to the mapping's on-failure destination through
// `destinations` as a failure notice (spec 9); the checkpoint passes them only once the notice
// is stored. Without `destinations` (or without a destination in the mapping) they are logged
// and counted.
//
// Created by the composition root with borrowed collaborators that must outlive it. Thread-safe.
// The control-plane calls below do not block on readers; they write the store and return.
class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(stream::StreamService* streams,
                                              stream::MetadataStore* store,
                                              function::Invoker* invoker,
                                              FunctionResolver functions, const Clock* clock,
                                              EngineOptions options = {},
                                              FailureDestinations* destinations = nullptr);
  ~Engine();  // shutdown()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the reader threads and every enabled mapping.
  void start();
  // Stops reading and waits for invocations in flight (their results still checkpoint).
  // Idempotent; blocks.
  void shutdown();

  // ---- Control plane (the lambda layer validates requests before calling these) ----
  // Stores a new mapping in State Creating; it becomes Enabled (or Disabled) after the
  // transition delay. `draft` carries the configuration and account/region; uuid, state,
  // reason, result and times are set here. Errors, with the client text of spec 1.5:
  // kInvalidArgument "Stream not found: <arn>"; kAlreadyExists with the
  // ResourceConflictException text naming the existing mapping.
  Result<Mapping> create(Mapping draft);
  // Whether `event_source_arn` names a stream (or a consumer of one) that exists: ok, or
  // kInvalidArgument "Stream not found: <arn>" (spec 1.5 step 5, for the control plane's
  // order of checks).
  Status check_event_source(std::string_view event_source_arn) const;
  // Whether failure notices can go to `arn` (FailureDestinations::check): ok, or an error
  // whose message is the client text. Without destinations every ARN is refused.
  Status check_destination(std::string_view arn) const;
  // kNotFound "The resource you requested does not exist." for an unknown or deleted uuid.
  Result<Mapping> get(std::string_view uuid) const;
  // Applies `change` to a copy and stores it in State Updating (Enabling / Disabling when
  // `enabled` changed); readers pick the new configuration up at their next batch and keep
  // their checkpoints. kNotFound as get(); kInUse while Creating or Deleting; whatever
  // `change` returns.
  Result<Mapping> update(std::string_view uuid, const std::function<Status(Mapping&)>& change);
  // Marks the mapping Deleting and returns it so; it is gone after the transition delay.
  Result<Mapping> remove(std::string_view uuid);
  // Every mapping (of every account), oldest first.
  std::vector<Mapping> list() const;

  // Prometheus text exposition of the engine's counters (spec 12).
  std::string metrics_text() const;

  struct Impl;  // engine.cc's; public only so that its readers can name it

 private:
  explicit Engine(std::shared_ptr<Impl> impl);
  // Shared with the StreamService's append listener, which holds it weakly: a put that
  // races with the engine's end finds nothing instead of a destroyed engine.
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::esm
