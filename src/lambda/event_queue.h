#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "function/invoker.h"
#include "storage/catalog.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::lambda {

// How the queue of asynchronous invocations behaves (docs/async-invoke.md). Defaults are
// those of Lambda; server/ fills them from --async-* flags.
struct EventQueueOptions {
  // Attempts after the first one that ended in a function error or a timeout.
  int32_t max_retries = 2;
  // Wait before retry i (0-based); the last value repeats when there are more retries.
  // REQUIRES: not empty, no negative value.
  std::vector<int64_t> retry_delays_ms = {60'000, 120'000};
  // An event older than this (from its acceptance) is dropped instead of attempted.
  int64_t max_event_age_ms = 6 * 3600 * 1000;
  // After "nothing ran" (concurrency limit, invoker busy or stopping): the first wait; it
  // doubles on each further refusal of the same event, up to max_throttle_delay_ms. Such
  // waits consume no retry.
  int64_t throttle_delay_ms = 1'000;
  int64_t max_throttle_delay_ms = 30'000;
  // Attempts running at once, in total and per function (so that one function's backlog
  // cannot hold every slot while another function's events wait).
  int32_t max_in_flight = 8;
  int32_t max_in_flight_per_function = 4;
  // Accepted events not yet finished; enqueue() refuses more (backpressure).
  size_t max_pending = 100'000;
  // How long shutdown() waits for running attempts before leaving them to the next start.
  std::chrono::milliseconds shutdown_wait{3'000};
};

// One accepted asynchronous invocation, as stored in the catalog (namespace "lambda.event",
// docs/formats/lambda-event-queue.md).
struct AsyncEvent {
  std::string request_id;          // of the accepted Invoke; every attempt reuses it
  std::string function_arn;        // unqualified
  std::string payload;             // event JSON, already validated
  std::string client_context_b64;  // X-Amz-Client-Context as received (base64), may be empty
  std::string trace_id;            // X-Amzn-Trace-Id, printable ASCII or empty
  std::string tenant_id;           // X-Amz-Tenant-Id, printable ASCII or empty
  int64_t enqueued_ms = 0;         // Unix ms when it was accepted
  int64_t due_ms = 0;              // Unix ms of the next attempt
  int32_t attempts = 0;            // attempts that ended in a function error or a timeout

  bool operator==(const AsyncEvent&) const = default;
};

// The catalog value of `event` (JSON, version 1) and its inverse. decode_event() returns
// kCorruption naming `key` for anything it cannot read.
std::string encode_event(const AsyncEvent& event);
Result<AsyncEvent> decode_event(std::string_view json, std::string_view key);

// The durable queue behind Invoke with X-Amz-Invocation-Type: Event and InvokeAsync (spec
// 4.4, 4.5). enqueue() writes the event to the catalog before it returns, so an event the API
// acknowledged survives a crash. One worker thread takes due events, runs each through the
// function::Invoker and decides what next from the outcome:
//   kOk                          done: the entry is erased
//   kFunctionError, kTimedOut    attempts + 1; retried after retry_delays_ms (persisted), or
//                                dropped with a warning once max_retries retries failed
//   kUnavailable "ResourceNotFound"   dropped (the function is gone), with a warning
//   kUnavailable, anything else  nothing ran: tried again after a throttle delay, no retry
//                                consumed (spec 4.6: asynchronous invocations wait)
// Before each attempt an event older than max_event_age_ms is dropped with a warning, and so
// is one whose function `lookup` no longer finds. Delivery is at least once: an attempt cut
// short by a crash or by shutdown() runs again after the next open(), and every attempt of
// one event uses the event's request id. Per-function order is not kept; events become due
// in acceptance order and each function gets at most max_in_flight_per_function slots.
//
// Created by the composition root with open(), started with start(); shutdown() (also run by
// the destructor) stops it. Borrows `catalog`, `invoker` and `clock`: they must outlive the
// queue, and the invoker must not call back into a destroyed queue's state (callbacks hold
// only a shared internal state, which ignores outcomes after shutdown). enqueue() and
// stats() are thread-safe; open/start/shutdown come from one controlling thread. The
// invoker's `done` callback only hands the outcome to the worker, so it never blocks the
// invoker's thread; catalog writes happen on the worker.
class EventQueue {
 public:
  // The function's timeout in seconds (the deadline of an attempt); kNotFound when the
  // function no longer exists. Called on the worker thread.
  using FunctionLookup = std::function<Result<int32_t>(const std::string& function_arn)>;

  // Loads every pending event of the catalog (with its attempt count and due time). Does not
  // start the worker. kCorruption for an unreadable entry; the catalog's errors.
  static Result<std::unique_ptr<EventQueue>> open(storage::Catalog* catalog,
                                                  function::Invoker* invoker, FunctionLookup lookup,
                                                  const Clock* clock, EventQueueOptions options);
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Accepts `event` (request_id, function_arn, payload and the optional members set by the
  // caller; enqueued_ms, due_ms and attempts are set here) and returns once it is durable.
  // kUnavailable after shutdown() began; kLimitExceeded when max_pending events wait;
  // the catalog's error when the write failed (then nothing was accepted).
  Status enqueue(AsyncEvent event);

  // Starts the worker thread. REQUIRES: called at most once, before shutdown().
  void start();

  // Refuses new events, lets running attempts finish for up to shutdown_wait (their outcome
  // is recorded), then stops the worker. Attempts still running are left as they are in the
  // catalog and run again after the next open(). Idempotent; blocks.
  void shutdown();

  struct Stats {
    size_t pending = 0;    // accepted and not finished, including running ones
    size_t in_flight = 0;  // attempts running now
    uint64_t succeeded = 0;
    uint64_t retried = 0;    // failed attempts that were scheduled again
    uint64_t throttled = 0;  // attempts that found no capacity (no retry consumed)
    uint64_t dropped = 0;    // retries exhausted, too old, or function gone
  };
  Stats stats() const;

  // One pass of the worker on the caller's thread: applies the outcomes that arrived, then
  // starts every due attempt the slots allow. For tests that move a ManualClock instead of
  // waiting. REQUIRES: start() was not called.
  void TEST_run_once();

 private:
  struct Entry {
    AsyncEvent event;
    bool in_flight = false;
    int32_t throttles = 0;  // refusals in a row; not persisted
  };
  // What the invoker's callbacks may touch; shared so that a late callback finds it alive.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::string, function::InvokeOutcome>> completions;  // GUARDED_BY(mu)
    bool wake = false;                                                         // GUARDED_BY(mu)
    bool closed = false;  // GUARDED_BY(mu); the worker ended: outcomes are ignored
  };

  EventQueue(storage::Catalog* catalog, function::Invoker* invoker, FunctionLookup lookup,
             const Clock* clock, EventQueueOptions options);
  void worker_loop();
  // Returns the Unix ms of the next due event that is not running, if any.
  std::optional<int64_t> run_once();
  void apply_outcome(const std::string& key, function::InvokeOutcome outcome);
  // `event` is the entry's own; it stays valid because only the worker erases entries.
  void start_attempt(const std::string& key, const AsyncEvent& event);
  // Frees the running slot of one attempt of `function_arn`.
  void release(const std::string& function_arn);
  // Erases `key` from memory and the catalog, logging why at warn (empty `why`: success).
  // `event` (the entry's own) is invalid afterwards.
  void finish(const std::string& key, const AsyncEvent& event, std::string_view why);
  // Schedules an event that could not run after the throttle delay (no retry consumed).
  void requeue_throttled(const std::string& key);
  int64_t retry_delay_ms(int32_t retry_index) const;

  storage::Catalog* const catalog_;
  function::Invoker* const invoker_;
  const FunctionLookup lookup_;
  const Clock* const clock_;
  const EventQueueOptions options_;
  const std::shared_ptr<Shared> shared_;
  // The bookkeeping below is under shared_->mu.
  std::map<std::string, Entry> events_;  // GUARDED_BY(mu); by catalog key
  // Events not running, by function ARN, each set ordered by (due_ms, key); no empty sets.
  std::map<std::string, std::set<std::pair<int64_t, std::string>>> ready_;  // GUARDED_BY(mu)
  std::string round_robin_after_;  // GUARDED_BY(mu); the function that was served last
  std::map<std::string, int32_t> running_by_function_;  // GUARDED_BY(mu); no zero counts
  size_t in_flight_ = 0;                                // GUARDED_BY(mu)
  bool stopping_ = false;                               // GUARDED_BY(mu)
  Stats counters_;                                      // GUARDED_BY(mu); pending/in_flight unused
  std::thread worker_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace sluice::lambda
