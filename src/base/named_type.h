#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace sluice {

// A number with a meaning of its own (a log offset, a file position), so that one cannot be
// passed where the other is expected. Explicit in, explicit out (`value()`).
template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const NamedType&) const = default;
  constexpr NamedType& operator++() {
    ++value_;
    return *this;
  }
  friend std::ostream& operator<<(std::ostream& os, const NamedType& v) { return os << v.value_; }

 private:
  T value_{};
};

}  // namespace sluice

template <typename T, typename Tag>
struct std::hash<sluice::NamedType<T, Tag>> {
  size_t operator()(const sluice::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>()(v.value());
  }
};

template <typename T, typename Tag>
struct fmt::formatter<sluice::NamedType<T, Tag>> : fmt::formatter<T> {
  auto format(const sluice::NamedType<T, Tag>& v, fmt::format_context& ctx) const {
    return fmt::formatter<T>::format(v.value(), ctx);
  }
};
