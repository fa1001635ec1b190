#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace sluice {

// Turns an asynchronous call into a blocking one: calls `start` with a callback taking a T,
// blocks until that callback has run, and returns the value it was given. The callback must
// run exactly once, on any thread, also before `start` returns. Its state is shared, so the
// callback may still be returning when the waiter has its value and leaves.
//
//   Result<Outcome> r = await_callback<Result<Outcome>>(
//       [&](auto done) { writer.submit(records, std::move(done)); });
template <typename T, typename Start>
T await_callback(Start&& start) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<T> value;
  };
  auto state = std::make_shared<State>();
  std::forward<Start>(start)([state](T value) {
    std::lock_guard lock(state->mu);
    state->value.emplace(std::move(value));
    state->cv.notify_one();
  });
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return state->value.has_value(); });
  return std::move(*state->value);
}

}  // namespace sluice
