// Sluice in-process handlers: the public interface between Sluice and a shared library that
// implements a Lambda function in C++ (runtime "sluice.cpp", docs/runtime.md).
//
// Two layers:
//   1. A C ABI (the sluice_*_v1 types and the entry point signature). This is what Sluice
//      calls; it is stable: a library built against version 1 keeps working with every Sluice
//      that speaks version 1, whatever compiler or standard library either side used.
//   2. A header-only C++ layer (namespace sluice::handler) for writing handlers comfortably.
//      It is compiled into the handler's library, never into Sluice, so it may change freely.
//
// A complete example: examples/cpp-handler/.
//
//   #include <sluice/handler.h>
//   sluice::handler::Response hello(std::string_view event, const sluice::handler::Context& c) {
//     c.log("got an event");
//     return sluice::handler::Response::success(R"({"hello":"world"})");
//   }
//   SLUICE_HANDLER(hello)  // exports sluice_handler_v1
//
// Threading: Sluice calls the entry point from its own worker threads, several invocations at
// a time (one per concurrency slot), so a handler must be thread-safe. Everything a handler is
// given is valid only until the entry point returns.
//
// Trust: the library runs inside the Sluice server process. A crash, an abort or memory
// corruption in a handler takes the whole server down. Use the `provided` runtimes for code
// that is not trusted that far.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SLUICE_HANDLER_ABI_VERSION 1

// The symbol Sluice looks up when the function's Handler names no symbol.
#define SLUICE_HANDLER_DEFAULT_SYMBOL "sluice_handler_v1"

#if defined(__GNUC__)
#define SLUICE_HANDLER_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_HANDLER_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

// A read-only byte range owned by Sluice. Not NUL-terminated.
typedef struct sluice_bytes_v1 {
  const char* data;
  size_t size;
} sluice_bytes_v1;

// One invocation as the handler sees it. Every view stays valid until the entry point
// returns. Fields are only ever appended in later minor revisions of version 1; `struct_size`
// tells a handler how many of them this Sluice filled in.
typedef struct sluice_invocation_v1 {
  uint32_t abi_version;     // SLUICE_HANDLER_ABI_VERSION
  uint32_t struct_size;     // sizeof(sluice_invocation_v1) as Sluice compiled it
  sluice_bytes_v1 payload;  // the event (JSON), zero-copy
  sluice_bytes_v1 request_id;
  sluice_bytes_v1 function_arn;
  sluice_bytes_v1 function_name;
  sluice_bytes_v1 client_context;  // the decoded X-Amz-Client-Context JSON; empty when none
  sluice_bytes_v1 trace_id;        // X-Amzn-Trace-Id; empty when none
  sluice_bytes_v1 tenant_id;       // X-Amz-Tenant-Id; empty when none
  int64_t deadline_ms;             // Unix epoch milliseconds
  int32_t memory_mb;               // the function's MemorySize
  int32_t reserved;
  // Appends one line to the function's log (START/END/REPORT framing, X-Amz-Log-Type: Tail).
  // `host` must be the `host` member below. Thread-safe; callable only during the call.
  void (*log)(void* host, const char* line, size_t size);
  void* host;
} sluice_invocation_v1;

// Where the handler puts its answer. Sluice copies what it is given, so the handler may free
// its buffers as soon as a setter returns. The entry point's return value decides which
// setter counts: 0 takes the last set_result, anything else the last set_error.
typedef struct sluice_reply_v1 {
  void* host;
  // The result body and its content type (NULL or empty: "application/json").
  void (*set_result)(void* host, const char* body, size_t body_size, const char* content_type,
                     size_t content_type_size);
  // A function error: Sluice answers with X-Amz-Function-Error and the document
  // {"errorMessage":<message>,"errorType":<type>,"stackTrace":[]}.
  void (*set_error)(void* host, const char* error_type, size_t error_type_size, const char* message,
                    size_t message_size);
} sluice_reply_v1;

// The entry point. Returns 0 when the invocation succeeded (the result is what set_result
// last received, or "null" when it was never called) and anything else for a function
// error (what set_error last received, or a generic error document). Must not let a C++
// exception escape: Sluice catches and reports one, but unwinding through a C frame is not
// something a handler should rely on.
typedef int (*sluice_handler_v1_fn)(const sluice_invocation_v1* invocation,
                                    const sluice_reply_v1* reply);

#ifdef __cplusplus
}  // extern "C"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

#if defined(__GNUG__)
#include <cxxabi.h>
#endif

namespace sluice::handler {

// What one invocation knows about itself. A view over sluice_invocation_v1: valid only while
// the handler runs; copy what must outlive the call.
class Context {
 public:
  explicit Context(const sluice_invocation_v1* inv) : inv_(inv) {}

  std::string_view request_id() const { return view(inv_->request_id); }
  std::string_view function_arn() const { return view(inv_->function_arn); }
  std::string_view function_name() const { return view(inv_->function_name); }
  std::string_view client_context() const { return view(inv_->client_context); }
  std::string_view trace_id() const { return view(inv_->trace_id); }
  std::string_view tenant_id() const { return view(inv_->tenant_id); }
  int32_t memory_mb() const { return inv_->memory_mb; }
  std::chrono::system_clock::time_point deadline() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(inv_->deadline_ms));
  }
  // Time left before Sluice reports Sandbox.Timedout (negative once it has passed).
  std::chrono::milliseconds remaining_time() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline() -
                                                                 std::chrono::system_clock::now());
  }
  // One line to the function's log.
  void log(std::string_view line) const { inv_->log(inv_->host, line.data(), line.size()); }

 private:
  static std::string_view view(sluice_bytes_v1 b) { return std::string_view(b.data, b.size); }
  const sluice_invocation_v1* inv_;
};

// A handler's answer: a result body (with its content type) or a function error.
class Response {
 public:
  static Response success(std::string body, std::string content_type = "application/json") {
    return Response(true, std::move(body), std::move(content_type));
  }
  static Response failure(std::string error_type, std::string error_message) {
    return Response(false, std::move(error_message), std::move(error_type));
  }

  bool is_success() const { return ok_; }
  const std::string& body() const { return text_; }           // success only
  const std::string& content_type() const { return kind_; }   // success only
  const std::string& error_type() const { return kind_; }     // failure only
  const std::string& error_message() const { return text_; }  // failure only

 private:
  Response(bool ok, std::string text, std::string kind)
      : ok_(ok), text_(std::move(text)), kind_(std::move(kind)) {}
  bool ok_;
  std::string text_;
  std::string kind_;
};

namespace detail {

// The demangled name of the exception being handled ("std::runtime_error"), or
// "std::exception" when it cannot be had.
inline std::string current_exception_type() {
#if defined(__GNUG__)
  if (const std::type_info* t = abi::__cxa_current_exception_type()) {
    int status = 0;
    char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
    if (status == 0 && name != nullptr) {
      std::string out(name);
      std::free(name);
      return out;
    }
    std::free(name);
    return t->name();
  }
#endif
  return "std::exception";
}

inline void set_error(const sluice_reply_v1* reply, std::string_view type,
                      std::string_view message) {
  reply->set_error(reply->host, type.data(), type.size(), message.data(), message.size());
}

// Runs a C++ handler behind the C entry point: exceptions become function errors.
template <typename Fn>
int run(Fn&& fn, const sluice_invocation_v1* inv, const sluice_reply_v1* reply) noexcept {
  try {
    const Context context(inv);
    Response r = fn(std::string_view(inv->payload.data, inv->payload.size), context);
    if (r.is_success()) {
      reply->set_result(reply->host, r.body().data(), r.body().size(), r.content_type().data(),
                        r.content_type().size());
      return 0;
    }
    set_error(reply, r.error_type(), r.error_message());
    return 1;
  } catch (const std::exception& e) {
    set_error(reply, current_exception_type(), e.what());
  } catch (...) {
    set_error(reply, current_exception_type(), "unknown exception");
  }
  return 1;
}

}  // namespace detail
}  // namespace sluice::handler

// Exports `fn` (callable as Response(std::string_view event, const Context&)) under the C
// entry point `symbol`; name that symbol in the function's Handler as "<lib.so>:<symbol>".
#define SLUICE_HANDLER_AS(symbol, fn)                                                 \
  extern "C" SLUICE_HANDLER_EXPORT int symbol(const sluice_invocation_v1* invocation, \
                                              const sluice_reply_v1* reply) {         \
    return ::sluice::handler::detail::run(fn, invocation, reply);                     \
  }

// Exports `fn` as the library's default entry point (Handler "<lib.so>").
#define SLUICE_HANDLER(fn) SLUICE_HANDLER_AS(sluice_handler_v1, fn)

#endif  // __cplusplus
