#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::net {

// The process's one io_context and the few threads that run it (STYLE.md section 7).
// Created by the composition root before anything that uses the context, destroyed after
// all of them. start() and stop()/join() are called from one controlling thread (main);
// context() may be used from any thread.
//
// An exception escaping a handler is logged and the thread goes back to running the context,
// so one bad completion handler does not silently take a thread away.
class EventLoop {
 public:
  // REQUIRES: threads >= 1.
  explicit EventLoop(size_t threads);
  ~EventLoop();  // stop() and join()
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& context() { return ioc_; }
  size_t thread_count() const { return thread_count_; }

  // Starts the threads; they run until stop(), even when there is no work.
  void start();
  // Asks every thread to return from run() as soon as its current handler ends. Pending
  // handlers are not run. Safe to call from any thread, also from a handler, and twice.
  void stop();
  // Waits for the threads. REQUIRES: not called from one of them.
  void join();
  // True when the calling thread is one of ours.
  bool in_loop_thread() const;

 private:
  const size_t thread_count_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace sluice::net
