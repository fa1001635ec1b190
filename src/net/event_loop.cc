#include "net/event_loop.h"

#include "base/check.h"
#include "base/log.h"

#include <exception>

namespace sluice::net {

EventLoop::EventLoop(size_t threads) : thread_count_(threads), ioc_(static_cast<int>(threads)) {
  SLUICE_CHECK(threads >= 1, "EventLoop needs at least one thread");
}

EventLoop::~EventLoop() {
  stop();
  join();
}

void EventLoop::start() {
  SLUICE_CHECK(threads_.empty(), "EventLoop started twice");
  work_.emplace(ioc_.get_executor());
  threads_.reserve(thread_count_);
  for (size_t i = 0; i < thread_count_; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          logging::get("net")->error("exception escaped a handler on the event loop: {}", e.what());
        }
      }
    });
  }
}

void EventLoop::stop() {
  // work_ is only touched by the controlling thread; ioc_.stop() is thread-safe.
  ioc_.stop();
}

void EventLoop::join() {
  SLUICE_CHECK(!in_loop_thread(), "EventLoop::join() from one of its own threads");
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  work_.reset();
}

bool EventLoop::in_loop_thread() const {
  return const_cast<boost::asio::io_context&>(ioc_).get_executor().running_in_this_thread();
}

}  // namespace sluice::net
