#include "lambda/event_queue.h"

#include "base/base64.h"
#include "base/check.h"
#include "base/json_writer.h"
#include "base/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <simdjson.h>

namespace sluice::lambda {

namespace {

// Catalog namespace and record version: docs/formats/lambda-event-queue.md.
constexpr std::string_view kCatalogNs = "lambda.event";
constexpr int64_t kRecordVersion = 1;

std::shared_ptr<spdlog::logger> logger() { return logging::get("lambda"); }

// Zero-padded acceptance time first, so that listing the namespace (ordered by key) gives
// the events back in the order they were accepted.
std::string catalog_key(const AsyncEvent& e) {
  return fmt::format("{:016d}/{}", e.enqueued_ms, e.request_id);
}

}  // namespace

std::string encode_event(const AsyncEvent& e) {
  JsonWriter w;
  w.begin_object();
  w.member_int("v", kRecordVersion);
  w.member("request_id", e.request_id);
  w.member("function_arn", e.function_arn);
  w.member_int("enqueued_ms", e.enqueued_ms);
  w.member_int("due_ms", e.due_ms);
  w.member_int("attempts", e.attempts);
  w.member("client_context", e.client_context_b64);
  w.member("trace_id", e.trace_id);
  w.member("tenant_id", e.tenant_id);
  w.member("payload", e.payload);
  w.end_object();
  return w.take();
}

Result<AsyncEvent> decode_event(std::string_view json, std::string_view key) {
  auto bad = [&](std::string_view what) {
    return Status::corruption(fmt::format("lambda event queue entry {}: {}", key, what));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return bad("not a JSON object");
  }
  int64_t version = 0;
  if (root["v"].get_int64().get(version) != simdjson::SUCCESS || version != kRecordVersion) {
    return bad("unknown record version");
  }
  AsyncEvent e;
  std::string_view sv;
  auto str = [&](const char* name, std::string& out) {
    if (root[name].get_string().get(sv) != simdjson::SUCCESS) return false;
    out = std::string(sv);
    return true;
  };
  int64_t attempts = 0;
  const bool ok = str("request_id", e.request_id) && str("function_arn", e.function_arn) &&
                  root["enqueued_ms"].get_int64().get(e.enqueued_ms) == simdjson::SUCCESS &&
                  root["due_ms"].get_int64().get(e.due_ms) == simdjson::SUCCESS &&
                  root["attempts"].get_int64().get(attempts) == simdjson::SUCCESS &&
                  str("client_context", e.client_context_b64) && str("trace_id", e.trace_id) &&
                  str("tenant_id", e.tenant_id) && str("payload", e.payload);
  if (!ok) return bad("missing or mistyped member");
  if (attempts < 0 || attempts > 1000 || e.request_id.empty() || e.function_arn.empty()) {
    return bad("impossible attempt count or empty id");
  }
  e.attempts = static_cast<int32_t>(attempts);
  if (key != catalog_key(e)) return bad("key does not match the record");
  return e;
}

EventQueue::EventQueue(storage::Catalog* catalog, function::Invoker* invoker, FunctionLookup lookup,
                       const Clock* clock, EventQueueOptions options)
    : catalog_(catalog),
      invoker_(invoker),
      lookup_(std::move(lookup)),
      clock_(clock),
      options_(std::move(options)),
      shared_(std::make_shared<Shared>()) {
  SLUICE_CHECK(!options_.retry_delays_ms.empty(), "EventQueueOptions: no retry delay");
  SLUICE_CHECK(options_.max_in_flight > 0 && options_.max_in_flight_per_function > 0,
               "EventQueueOptions: no slot to run attempts in");
}

Result<std::unique_ptr<EventQueue>> EventQueue::open(storage::Catalog* catalog,
                                                     function::Invoker* invoker,
                                                     FunctionLookup lookup, const Clock* clock,
                                                     EventQueueOptions options) {
  std::unique_ptr<EventQueue> q(
      new EventQueue(catalog, invoker, std::move(lookup), clock, std::move(options)));
  SLUICE_ASSIGN_OR_RETURN(auto entries, catalog->list(kCatalogNs));
  std::lock_guard lock(q->shared_->mu);
  for (auto& [key, value] : entries) {
    SLUICE_ASSIGN_OR_RETURN(AsyncEvent event, decode_event(value, key));
    q->ready_[event.function_arn].emplace(event.due_ms, key);
    q->events_.emplace(key, Entry{std::move(event), false, 0});
  }
  if (!q->events_.empty()) {
    logger()->info("async invocations: {} pending event(s) resumed", q->events_.size());
  }
  return q;
}

EventQueue::~EventQueue() { shutdown(); }

Status EventQueue::enqueue(AsyncEvent event) {
  {
    std::lock_guard lock(shared_->mu);
    if (stopping_) return Status::unavailable("the asynchronous invocation queue is stopped");
    if (events_.size() >= options_.max_pending) {
      return Status::limit_exceeded(
          fmt::format("{} asynchronous invocations are waiting", events_.size()));
    }
  }
  event.enqueued_ms = clock_->now_ms();
  event.due_ms = event.enqueued_ms;
  event.attempts = 0;
  std::string key = catalog_key(event);
  // Durable before it is visible to the worker and before the caller answers 202.
  SLUICE_RETURN_IF_ERROR(catalog_->put(kCatalogNs, key, encode_event(event)));
  {
    std::lock_guard lock(shared_->mu);
    ready_[event.function_arn].emplace(event.due_ms, key);
    events_.emplace(std::move(key), Entry{std::move(event), false, 0});
    shared_->wake = true;
  }
  shared_->cv.notify_one();
  return Status();
}

void EventQueue::start() {
  SLUICE_CHECK(!started_ && !shut_down_, "EventQueue::start() twice or after shutdown()");
  started_ = true;
  worker_ = std::thread([this] { worker_loop(); });
}

void EventQueue::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard lock(shared_->mu);
    stopping_ = true;
    shared_->wake = true;
  }
  shared_->cv.notify_one();
  if (worker_.joinable()) {
    worker_.join();
  } else {
    std::lock_guard lock(shared_->mu);
    shared_->closed = true;
  }
  std::lock_guard lock(shared_->mu);
  if (in_flight_ > 0) {
    logger()->info(
        "async invocations: {} attempt(s) still running at shutdown; they run again after the "
        "next start",
        in_flight_);
  }
}

EventQueue::Stats EventQueue::stats() const {
  std::lock_guard lock(shared_->mu);
  Stats s = counters_;
  s.pending = events_.size();
  s.in_flight = in_flight_;
  return s;
}

void EventQueue::TEST_run_once() {
  SLUICE_CHECK(!started_, "TEST_run_once() with a running worker");
  (void)run_once();
}

void EventQueue::worker_loop() {
  std::unique_lock lock(shared_->mu);
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;
  for (;;) {
    if (stopping_) {
      const auto now = std::chrono::steady_clock::now();
      if (!stop_deadline) stop_deadline = now + options_.shutdown_wait;
      if ((in_flight_ == 0 && shared_->completions.empty()) || now >= *stop_deadline) break;
    }
    shared_->wake = false;
    lock.unlock();
    const std::optional<int64_t> next_due = run_once();
    lock.lock();
    auto woken = [this] { return shared_->wake; };
    if (woken()) continue;
    if (stopping_) {
      // Only running attempts are waited for; the loop's head ends the worker otherwise.
      if (stop_deadline && in_flight_ > 0) shared_->cv.wait_until(lock, *stop_deadline, woken);
    } else if (next_due) {
      const int64_t wait_ms = *next_due - clock_->now_ms();
      if (wait_ms > 0) shared_->cv.wait_for(lock, std::chrono::milliseconds(wait_ms), woken);
    } else {
      shared_->cv.wait(lock, woken);
    }
  }
  // From here on late outcomes are ignored; their events are still in the catalog as they
  // were before the attempt, so they run again after the next start.
  shared_->closed = true;
}

std::optional<int64_t> EventQueue::run_once() {
  std::vector<std::pair<std::string, function::InvokeOutcome>> outcomes;
  {
    std::lock_guard lock(shared_->mu);
    outcomes.swap(shared_->completions);
  }
  for (auto& [key, outcome] : outcomes) apply_outcome(key, std::move(outcome));

  // Take due events one function at a time, round robin from the function served last, so
  // that a long backlog of one function does not delay the others.
  std::vector<std::pair<std::string, const AsyncEvent*>> starts;
  std::optional<int64_t> next_due;
  {
    std::lock_guard lock(shared_->mu);
    const int64_t now = clock_->now_ms();
    while (!stopping_ && in_flight_ < static_cast<size_t>(options_.max_in_flight)) {
      std::vector<std::string> order;
      for (auto it = ready_.upper_bound(round_robin_after_); it != ready_.end(); ++it) {
        order.push_back(it->first);
      }
      for (auto it = ready_.begin(); it != ready_.end() && it->first <= round_robin_after_; ++it) {
        order.push_back(it->first);
      }
      bool took = false;
      for (const std::string& arn : order) {
        if (in_flight_ >= static_cast<size_t>(options_.max_in_flight)) break;
        auto queue = ready_.find(arn);
        auto& due = queue->second;
        if (due.begin()->first > now) continue;
        int32_t& running = running_by_function_[arn];
        if (running >= options_.max_in_flight_per_function) continue;
        const std::string key = due.begin()->second;
        due.erase(due.begin());
        if (due.empty()) ready_.erase(queue);
        Entry& entry = events_.at(key);
        entry.in_flight = true;
        ++running;
        ++in_flight_;
        starts.emplace_back(key, &entry.event);
        round_robin_after_ = arn;
        took = true;
      }
      if (!took) break;
    }
    // A due event that is still waiting is held by a running attempt, whose outcome wakes
    // the worker; only future due times need a timer.
    for (const auto& [arn, due] : ready_) {
      const int64_t first = due.begin()->first;
      if (first > now && (!next_due || first < *next_due)) next_due = first;
    }
  }
  // Entries are modified and erased only on this thread, so `event` stays valid while other
  // threads add entries to the map.
  for (const auto& [key, event] : starts) start_attempt(key, *event);
  return next_due;
}

void EventQueue::start_attempt(const std::string& key, const AsyncEvent& event) {
  const int64_t now = clock_->now_ms();
  if (now - event.enqueued_ms > options_.max_event_age_ms) {
    release(event.function_arn);
    return finish(key, event, "older than the maximum event age");
  }
  Result<int32_t> timeout_s = lookup_(event.function_arn);
  if (!timeout_s.ok()) {
    release(event.function_arn);
    if (timeout_s.status().is_not_found()) return finish(key, event, "the function is gone");
    logger()->warn("async invocation request_id={} function={}: {}; trying again later",
                   event.request_id, event.function_arn, timeout_s.status().to_string());
    return requeue_throttled(key);
  }
  function::Invocation invocation;
  invocation.request_id = event.request_id;
  invocation.function_arn = event.function_arn;
  invocation.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(now)) +
                        std::chrono::seconds(*timeout_s);
  invocation.payload = event.payload;  // the entry keeps its copy for a retry
  if (!event.client_context_b64.empty()) {
    (void)base64_decode(event.client_context_b64, invocation.client_context);  // checked by Api
  }
  invocation.trace_id = event.trace_id;
  invocation.tenant_id = event.tenant_id;
  logger()->debug("async invocation request_id={} function={} attempt={}", event.request_id,
                  event.function_arn, event.attempts + 1);
  invoker_->invoke(std::move(invocation), [shared = shared_, key](function::InvokeOutcome outcome) {
    // On the invoker's thread: hand over and return at once.
    {
      std::lock_guard lock(shared->mu);
      if (shared->closed) return;
      shared->completions.emplace_back(key, std::move(outcome));
      shared->wake = true;
    }
    shared->cv.notify_one();
  });
}

void EventQueue::release(const std::string& function_arn) {
  std::lock_guard lock(shared_->mu);
  auto it = running_by_function_.find(function_arn);
  SLUICE_CHECK(it != running_by_function_.end() && it->second > 0 && in_flight_ > 0,
               "async invocation slot accounting broken for {}", function_arn);
  if (--it->second == 0) running_by_function_.erase(it);
  --in_flight_;
}

void EventQueue::apply_outcome(const std::string& key, function::InvokeOutcome outcome) {
  const AsyncEvent* event = nullptr;
  {
    std::lock_guard lock(shared_->mu);
    auto it = events_.find(key);
    SLUICE_CHECK(it != events_.end() && it->second.in_flight,
                 "outcome for async invocation {} that is not running", key);
    it->second.in_flight = false;
    event = &it->second.event;
  }
  release(event->function_arn);
  using Kind = function::InvokeOutcome::Kind;
  switch (outcome.kind) {
    case Kind::kOk:
      return finish(key, *event, "");
    case Kind::kFunctionError:
    case Kind::kTimedOut: {
      const int32_t failed = event->attempts + 1;
      if (failed > options_.max_retries) {
        {
          std::lock_guard lock(shared_->mu);
          events_.at(key).event.attempts = failed;  // for the log line
        }
        return finish(key, *event,
                      outcome.kind == Kind::kTimedOut ? "retries exhausted (last: timed out)"
                                                      : "retries exhausted (last: function error)");
      }
      const int64_t due = clock_->now_ms() + retry_delay_ms(failed - 1);
      if (due - event->enqueued_ms > options_.max_event_age_ms) {
        return finish(key, *event, "the next retry would pass the maximum event age");
      }
      AsyncEvent updated = *event;
      updated.attempts = failed;
      updated.due_ms = due;
      // Persisted before the entry is scheduled again, so that a restart neither repeats
      // the retry count nor forgets the delay.
      if (Status s = catalog_->put(kCatalogNs, key, encode_event(updated)); !s.ok()) {
        logger()->error("async invocation request_id={}: recording attempt {} failed: {}",
                        updated.request_id, failed, s.to_string());
      }
      logger()->info(
          "async invocation request_id={} function={} attempt {} failed; retry at +{} ms",
          updated.request_id, updated.function_arn, failed, due - clock_->now_ms());
      std::lock_guard lock(shared_->mu);
      Entry& entry = events_.at(key);
      entry.event.attempts = failed;
      entry.event.due_ms = due;
      entry.throttles = 0;
      ready_[entry.event.function_arn].emplace(due, key);
      ++counters_.retried;
      return;
    }
    case Kind::kUnavailable:
      if (outcome.payload == "ResourceNotFound") {
        return finish(key, *event, "the function is gone");
      }
      logger()->debug("async invocation request_id={} function={}: not run ({}); waiting",
                      event->request_id, event->function_arn, outcome.payload);
      return requeue_throttled(key);
  }
}

void EventQueue::requeue_throttled(const std::string& key) {
  std::lock_guard lock(shared_->mu);
  Entry& entry = events_.at(key);
  int64_t delay = options_.throttle_delay_ms;
  for (int32_t i = 0; i < entry.throttles && delay < options_.max_throttle_delay_ms; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, options_.max_throttle_delay_ms);
  ++entry.throttles;
  ++counters_.throttled;
  // In memory only: a refusal consumes no retry, and after a restart the event is due at
  // its persisted time anyway.
  entry.event.due_ms = clock_->now_ms() + delay;
  ready_[entry.event.function_arn].emplace(entry.event.due_ms, key);
}

void EventQueue::finish(const std::string& key, const AsyncEvent& event, std::string_view why) {
  if (why.empty()) {
    logger()->debug("async invocation request_id={} function={} succeeded", event.request_id,
                    event.function_arn);
  } else {
    // Destinations and dead-letter queues are out of scope (docs/async-invoke.md): the log
    // line is all that remains of a dropped event.
    logger()->warn("async invocation dropped: request_id={} function={} attempts={} reason: {}",
                   event.request_id, event.function_arn, event.attempts, why);
  }
  if (Status s = catalog_->erase(kCatalogNs, key); !s.ok()) {
    logger()->error("async invocation request_id={}: removing it from the catalog failed: {}",
                    event.request_id, s.to_string());
  }
  std::lock_guard lock(shared_->mu);
  if (why.empty()) {
    ++counters_.succeeded;
  } else {
    ++counters_.dropped;
  }
  events_.erase(key);  // `event` dies here
}

int64_t EventQueue::retry_delay_ms(int32_t retry_index) const {
  const size_t i = std::min(static_cast<size_t>(retry_index), options_.retry_delays_ms.size() - 1);
  return options_.retry_delays_ms[i];
}

}  // namespace sluice::lambda
