#pragma once

#include "base/check.h"
#include "base/status.h"

#include <optional>
#include <utility>

namespace sluice {

// A value or the Status that explains why there is none (C++20 has no std::expected).
// Constructing from an ok Status is a bug. Accessing the value of a failed Result aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    SLUICE_CHECK(!status_.ok(), "Result built from an ok Status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    SLUICE_CHECK(ok(), "value() of failed Result: {}", status_.to_string());
    return *value_;
  }
  const T& value() const& {
    SLUICE_CHECK(ok(), "value() of failed Result: {}", status_.to_string());
    return *value_;
  }
  T&& value() && {
    SLUICE_CHECK(ok(), "value() of failed Result: {}", status_.to_string());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace sluice

// Returns the Status of `expr` from the enclosing function when it is not ok.
#define SLUICE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::sluice::Status sluice_status_ = (expr);        \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (0)

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
// SLUICE_ASSIGN_OR_RETURN(auto x, f()): binds the value or returns the failure.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(sluice_result_, __LINE__), lhs, expr)
#define SLUICE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
